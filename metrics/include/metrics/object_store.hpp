#pragma once
/// ObjectStore: every object xenrdpd serves, and the change feed behind event.from.
///
/// Each change of an object (add, modify, delete) takes the next value of one
/// store-wide generation counter.  A reader asks what changed since a
/// generation and gets one entry per object with its latest state, then may
/// wait for the next change without holding a thread.  Snapshots are
/// immutable shared records, so a reader can serialize them later.
///
/// Threading: not thread-safe; owned and used by one executor (the io thread).
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <metrics/records.hpp>

namespace xenrdp::metrics {

enum class ChangeOp { Add, Mod, Del };

/// One entry of the change feed: the latest state of one object.
struct Change {
    ObjectClass cls;
    std::string ref;
    ChangeOp op;
    std::uint64_t generation;                ///< the object's latest generation
    std::shared_ptr<const Record> snapshot;  ///< null for Del
};

/// Which classes (and optionally which single objects) a reader follows.
/// Parsing event.from's "*", "vm", "vm/<ref>" strings is the caller's job.
struct ClassFilter {
    std::array<bool, kObjectClassCount> classes{};  ///< all false and no refs = nothing
    std::vector<std::string> refs;  ///< exact object refs ("OpaqueRef:..."), from "class/ref" subscriptions
    /// Every class.
    static ClassFilter all();
    /// True if `cls` is followed, or `ref` equals (byte for byte) one of `refs`.
    bool matches(ObjectClass cls, const std::string& ref) const;
};

struct ChangesResult {
    std::vector<Change> changes;   ///< ordered by generation
    std::uint64_t generation = 0;  ///< pass this to the next call
    bool lost = false;             ///< `since` is older than the deletions still remembered
};

/// Owns every record; hands out immutable shared snapshots that stay valid
/// after the object changes or goes.  Failure: only std::bad_alloc, and
/// std::invalid_argument from add(ref, record) on a used or empty ref.
class ObjectStore {
public:
    /// `deletedRetention` bounds how many deletions are remembered for readers
    /// (at least 1); the oldest is forgotten first.
    explicit ObjectStore(std::size_t deletedRetention = 65536);
    ObjectStore(const ObjectStore&) = delete;
    ObjectStore& operator=(const ObjectStore&) = delete;

    /// Inserts a new object under a fresh ref and returns the ref.
    std::string add(Record record);
    /// Inserts under a given ref.  Throws std::invalid_argument if the ref is
    /// empty or already in use.
    void add(const std::string& ref, Record record);
    /// Replaces an object's record; takes a new generation only if the record
    /// differs (operator==) from the stored one.  Returns true if it changed.
    /// Unknown ref, or a record of another class than the stored one: false,
    /// nothing changes.
    bool update(const std::string& ref, Record record);
    /// Removes an object; unknown refs are ignored.
    void remove(const std::string& ref);
    /// Gives an object a new generation without changing it (event.inject).
    /// Unknown ref: false.
    bool touch(const std::string& ref);

    /// The current record, or null for an unknown ref.
    std::shared_ptr<const Record> get(const std::string& ref) const;
    /// The current record if `ref` exists and holds a T; the pointer is valid
    /// until the next change of the store.
    template <class T>
    const T* getAs(const std::string& ref) const {
        auto it = objects_.find(ref);
        return it == objects_.end() ? nullptr : std::get_if<T>(it->second.record.get());
    }
    /// The ref of the live object of class `cls` with this uuid (O(1)).  If
    /// several objects share a uuid, the one added or updated last wins.
    std::optional<std::string> findByUuid(ObjectClass cls, const std::string& uuid) const;
    /// Refs and records of one class, ordered by ref.
    std::vector<std::pair<std::string, std::shared_ptr<const Record>>> all(ObjectClass cls) const;
    /// Calls `fn(ref, record)` for every object of one class, in no set
    /// order, copying nothing (all() copies and sorts the refs).  `fn` must
    /// not modify the store.
    void forEach(ObjectClass cls,
                 const std::function<void(const std::string& ref, const Record& record)>& fn) const;
    std::size_t count(ObjectClass cls) const noexcept;
    std::uint64_t generation() const noexcept { return generation_; }

    /// One entry per object changed after `since` and matching `filter`:
    /// Add if it was created after `since`, Mod if it existed before, Del if
    /// it existed before and is gone (objects created and deleted after
    /// `since` are left out).  since == 0 lists every live object as Add.
    /// Costs O(changes after since), not O(objects).
    ChangesResult changesSince(std::uint64_t since, const ClassFilter& filter) const;

    using WaiterId = std::uint64_t;
    /// Calls `notify` once, synchronously, right after the next change (any
    /// class), then forgets it.  A waiter registered from inside a callback
    /// waits for the change after the current one.  The callback must not
    /// modify the store and should only post its work; an exception it
    /// throws is swallowed.  Returns an id for cancelWait.
    WaiterId waitForChange(std::function<void()> notify);
    /// Forgets a waiter; unknown or already-fired ids are ignored.  Safe from
    /// inside a callback (a cancelled waiter of the same change is not called).
    void cancelWait(WaiterId id) noexcept;
    std::size_t waiterCount() const noexcept { return waiters_.size(); }

private:
    struct Entry {
        std::shared_ptr<const Record> record;
        ObjectClass cls;
        std::uint64_t created;
        std::uint64_t generation;
    };
    struct Tombstone {
        ObjectClass cls;
        std::string ref;
        std::uint64_t created;
    };
    using Object = std::pair<const std::string, Entry>;  ///< an element of objects_
    void bump(const Object& object, Entry& entry);
    void indexUuid(ObjectClass cls, const std::string& uuid, const Object& object);
    void unindexUuid(ObjectClass cls, const std::string& uuid, const std::string& ref);
    void notifyWaiters();

    std::uint64_t generation_ = 0;
    std::size_t deletedRetention_;
    std::uint64_t forgottenUpTo_ = 0;  ///< deletions at or below this generation are forgotten
    std::unordered_map<std::string, Entry> objects_;
    /// Live objects by latest generation.  Points at objects_'s elements,
    /// which stay put until erased (the ref is kept once, not twice).
    std::map<std::uint64_t, const Object*> byGeneration_;
    std::map<std::uint64_t, Tombstone> deleted_;         ///< deletions by generation
    /// uuid -> the object (an element of objects_, as in byGeneration_).
    /// The key views the uuid in that object's current record: indexUuid()
    /// re-points it whenever the record is replaced.
    std::array<std::unordered_map<std::string_view, const Object*>, kObjectClassCount> byUuid_;
    std::array<std::size_t, kObjectClassCount> counts_{};
    std::map<WaiterId, std::function<void()>> waiters_;
    WaiterId nextWaiter_ = 1;
};

}  // namespace xenrdp::metrics
