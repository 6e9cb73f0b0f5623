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
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <metrics/records.hpp>

namespace xenrdp::metrics {

enum class ChangeOp { Add, Mod, Del };

struct Change {
    ObjectClass cls;
    std::string ref;
    ChangeOp op;
    std::uint64_t generation;                ///< the object's latest generation
    std::shared_ptr<const Record> snapshot;  ///< null for Del
};

/// Which classes (and optionally which single objects) a reader follows.
struct ClassFilter {
    std::array<bool, kObjectClassCount> classes{};  ///< all false and no refs = nothing
    std::vector<std::string> refs;                   ///< "class/ref" subscriptions: single objects
    static ClassFilter all();
    bool matches(ObjectClass cls, const std::string& ref) const;
};

struct ChangesResult {
    std::vector<Change> changes;
    std::uint64_t generation = 0;  ///< pass this to the next call
    bool lost = false;             ///< `since` is older than the deletions still remembered
};

class ObjectStore {
public:
    /// `deletedRetention` bounds how many deletions are remembered for readers.
    explicit ObjectStore(std::size_t deletedRetention = 65536);
    ObjectStore(const ObjectStore&) = delete;
    ObjectStore& operator=(const ObjectStore&) = delete;

    /// Inserts a new object under a fresh ref and returns the ref.
    std::string add(Record record);
    /// Inserts under a given ref (must be unused).
    void add(const std::string& ref, Record record);
    /// Replaces an object's record; takes a new generation only if the record
    /// differs from the stored one.  Returns true if it changed.  Unknown ref: false.
    bool update(const std::string& ref, Record record);
    /// Removes an object; unknown refs are ignored.
    void remove(const std::string& ref);
    /// Gives an object a new generation without changing it (event.inject).
    bool touch(const std::string& ref);

    std::shared_ptr<const Record> get(const std::string& ref) const;
    template <class T>
    const T* getAs(const std::string& ref) const {
        auto it = objects_.find(ref);
        return it == objects_.end() ? nullptr : std::get_if<T>(it->second.record.get());
    }
    std::optional<std::string> findByUuid(ObjectClass cls, const std::string& uuid) const;
    /// Refs and records of one class, ordered by ref.
    std::vector<std::pair<std::string, std::shared_ptr<const Record>>> all(ObjectClass cls) const;
    std::size_t count(ObjectClass cls) const noexcept;
    std::uint64_t generation() const noexcept { return generation_; }

    /// One entry per object changed after `since` and matching `filter`:
    /// Add if it was created after `since`, Mod if it existed before, Del if
    /// it existed before and is gone (objects created and deleted after
    /// `since` are left out).  since == 0 lists every live object as Add.
    ChangesResult changesSince(std::uint64_t since, const ClassFilter& filter) const;

    using WaiterId = std::uint64_t;
    /// Calls `notify` once, synchronously, right after the next change (any
    /// class).  The callback must not modify the store; it should post its
    /// work.  Returns an id for cancelWait.
    WaiterId waitForChange(std::function<void()> notify);
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
    void bump(const std::string& ref, Entry& entry);
    void notifyWaiters();

    std::uint64_t generation_ = 0;
    std::size_t deletedRetention_;
    std::uint64_t forgottenUpTo_ = 0;  ///< deletions at or below this generation are forgotten
    std::unordered_map<std::string, Entry> objects_;
    std::map<std::uint64_t, std::string> byGeneration_;  ///< live objects by latest generation
    std::map<std::uint64_t, Tombstone> deleted_;         ///< deletions by generation
    std::array<std::size_t, kObjectClassCount> counts_{};
    std::map<WaiterId, std::function<void()>> waiters_;
    WaiterId nextWaiter_ = 1;
};

}  // namespace xenrdp::metrics
