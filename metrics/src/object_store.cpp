#include <metrics/object_store.hpp>

#include <algorithm>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace xenrdp::metrics {

namespace {

std::size_t classIndex(ObjectClass cls) noexcept {
    return static_cast<std::size_t>(cls);
}

const std::string& uuidOf(const Record& record) noexcept {
    return std::visit([](const auto& r) -> const std::string& { return r.uuid; }, record);
}

}  // namespace

ClassFilter ClassFilter::all() {
    ClassFilter filter;
    filter.classes.fill(true);
    return filter;
}

bool ClassFilter::matches(ObjectClass cls, const std::string& ref) const {
    const std::size_t index = classIndex(cls);
    if (index < classes.size() && classes[index]) {
        return true;
    }
    return std::find(refs.begin(), refs.end(), ref) != refs.end();
}

ObjectStore::ObjectStore(std::size_t deletedRetention)
    : deletedRetention_(std::max<std::size_t>(deletedRetention, 1)) {}

std::string ObjectStore::add(Record record) {
    std::string ref = newRef();
    // A clash of two random v4 UUIDs is not a practical concern, but a
    // caller-chosen ref could have taken this one; draw again if so.
    while (objects_.count(ref) != 0) {
        ref = newRef();
    }
    add(ref, std::move(record));
    return ref;
}

void ObjectStore::add(const std::string& ref, Record record) {
    if (ref.empty()) {
        throw std::invalid_argument("ObjectStore::add: empty ref");
    }
    if (objects_.count(ref) != 0) {
        throw std::invalid_argument("ObjectStore::add: ref already in use: " + ref);
    }
    const ObjectClass cls = classOf(record);
    auto snapshot = std::make_shared<const Record>(std::move(record));
    const std::uint64_t g = generation_ + 1;
    // Insert into every index before publishing the generation, so a
    // bad_alloc half way leaves the maps consistent with generation_.
    auto it = objects_.emplace(ref, Entry{snapshot, cls, g, g}).first;
    try {
        byGeneration_.emplace(g, &*it);
        indexUuid(cls, uuidOf(*snapshot), *it);
    } catch (...) {
        byGeneration_.erase(g);
        objects_.erase(it);
        throw;
    }
    generation_ = g;
    ++counts_[classIndex(cls)];
    notifyWaiters();
}

bool ObjectStore::update(const std::string& ref, Record record) {
    auto it = objects_.find(ref);
    if (it == objects_.end()) {
        return false;
    }
    Entry& entry = it->second;
    if (classOf(record) != entry.cls) {
        return false;
    }
    if (*entry.record == record) {
        return false;
    }
    // Readers may still hold the old snapshot; it stays valid because we
    // swap in a new shared record instead of mutating the old one.
    auto next = std::make_shared<const Record>(std::move(record));
    std::shared_ptr<const Record> previous = std::exchange(entry.record, next);
    // Indexed again even under the same uuid: the index's key views the
    // uuid inside the record, and the old record may go with its last
    // reader.  The old uuid's entry goes first, so that a bad_alloc while
    // indexing the new one leaves the object unfindable, not a key viewing
    // a freed record.
    const std::string& oldUuid = uuidOf(*previous);
    if (oldUuid != uuidOf(*next)) {
        unindexUuid(entry.cls, oldUuid, ref);
    }
    indexUuid(entry.cls, uuidOf(*next), *it);
    bump(*it, entry);
    return true;
}

void ObjectStore::remove(const std::string& ref) {
    auto it = objects_.find(ref);
    if (it == objects_.end()) {
        return;
    }
    const Entry& entry = it->second;
    const std::uint64_t g = generation_ + 1;
    deleted_.emplace(g, Tombstone{entry.cls, ref, entry.created});
    generation_ = g;
    byGeneration_.erase(entry.generation);
    unindexUuid(entry.cls, uuidOf(*entry.record), ref);
    --counts_[classIndex(entry.cls)];
    objects_.erase(it);
    // Forget the oldest deletions beyond the bound; a reader whose token is
    // older than the last forgotten one is told its view may be incomplete.
    while (deleted_.size() > deletedRetention_) {
        auto oldest = deleted_.begin();
        forgottenUpTo_ = oldest->first;
        deleted_.erase(oldest);
    }
    notifyWaiters();
}

bool ObjectStore::touch(const std::string& ref) {
    auto it = objects_.find(ref);
    if (it == objects_.end()) {
        return false;
    }
    bump(*it, it->second);
    return true;
}

void ObjectStore::bump(const Object& object, Entry& entry) {
    const std::uint64_t g = generation_ + 1;
    byGeneration_.emplace(g, &object);
    byGeneration_.erase(entry.generation);
    entry.generation = g;
    generation_ = g;
    notifyWaiters();
}

void ObjectStore::indexUuid(ObjectClass cls, const std::string& uuid, const Object& object) {
    if (uuid.empty()) {
        return;
    }
    auto& index = byUuid_[classIndex(cls)];
    // An entry already there keeps its node, but its key must view `uuid`
    // (this record's), not the string of the record it was made for.
    auto node = index.extract(uuid);
    if (node.empty()) {
        index.emplace(uuid, &object);
        return;
    }
    node.key() = uuid;
    node.mapped() = &object;
    index.insert(std::move(node));
}

void ObjectStore::unindexUuid(ObjectClass cls, const std::string& uuid, const std::string& ref) {
    auto& index = byUuid_[classIndex(cls)];
    auto it = index.find(uuid);
    if (it == index.end() || it->second->first != ref) {
        return;
    }
    index.erase(it);
    // Another live object may share the uuid (bad input from a caller); keep
    // it findable rather than losing it.  Linear, but only on this rare path.
    for (const Object& object : objects_) {
        const auto& [otherRef, other] = object;
        if (otherRef != ref && other.cls == cls && uuidOf(*other.record) == uuid) {
            index.emplace(uuidOf(*other.record), &object);  // a view of the record that stays
            break;
        }
    }
}

std::shared_ptr<const Record> ObjectStore::get(const std::string& ref) const {
    auto it = objects_.find(ref);
    return it == objects_.end() ? nullptr : it->second.record;
}

std::optional<std::string> ObjectStore::findByUuid(ObjectClass cls, const std::string& uuid) const {
    const std::size_t index = classIndex(cls);
    if (index >= byUuid_.size()) {
        return std::nullopt;
    }
    auto it = byUuid_[index].find(uuid);
    if (it == byUuid_[index].end()) {
        return std::nullopt;
    }
    return it->second->first;
}

std::vector<std::pair<std::string, std::shared_ptr<const Record>>> ObjectStore::all(
    ObjectClass cls) const {
    std::vector<std::pair<std::string, std::shared_ptr<const Record>>> out;
    out.reserve(count(cls));
    for (const auto& [ref, entry] : objects_) {
        if (entry.cls == cls) {
            out.emplace_back(ref, entry.record);
        }
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
}

void ObjectStore::forEach(
    ObjectClass cls,
    const std::function<void(const std::string& ref, const Record& record)>& fn) const {
    for (const auto& [ref, entry] : objects_) {
        if (entry.cls == cls) {
            fn(ref, *entry.record);
        }
    }
}

std::size_t ObjectStore::count(ObjectClass cls) const noexcept {
    const std::size_t index = classIndex(cls);
    return index < counts_.size() ? counts_[index] : 0;
}

ChangesResult ObjectStore::changesSince(std::uint64_t since, const ClassFilter& filter) const {
    ChangesResult result;
    result.generation = generation_;
    result.lost = since != 0 && since < forgottenUpTo_;

    // Position of each emitted ref in result.changes, to merge a deletion
    // with a later re-add of the same ref into one entry per object.
    std::unordered_map<std::string, std::size_t> emitted;

    // Live objects: byGeneration_ holds each one once, at its latest
    // generation, so this walks only what changed after `since`.
    for (auto it = byGeneration_.upper_bound(since); it != byGeneration_.end(); ++it) {
        const auto& [ref, entry] = *it->second;
        if (!filter.matches(entry.cls, ref)) {
            continue;
        }
        const ChangeOp op = entry.created > since ? ChangeOp::Add : ChangeOp::Mod;
        emitted.emplace(ref, result.changes.size());
        result.changes.push_back(Change{entry.cls, ref, op, entry.generation, entry.record});
    }

    // Deletions, oldest first: the first tombstone of a ref after `since`
    // tells whether the object existed at `since`.
    std::unordered_set<std::string> tombstoneSeen;
    for (auto it = deleted_.upper_bound(since); it != deleted_.end(); ++it) {
        const Tombstone& tomb = it->second;
        if (!filter.matches(tomb.cls, tomb.ref)) {
            continue;
        }
        const bool first = tombstoneSeen.insert(tomb.ref).second;
        const bool existedAtSince = first && tomb.created <= since;
        auto seen = emitted.find(tomb.ref);
        if (objects_.count(tomb.ref) != 0) {
            // Deleted and re-added under the same ref: if the reader knew the
            // old object, the live one (emitted above as Add) is a modification.
            if (existedAtSince && seen != emitted.end()) {
                result.changes[seen->second].op = ChangeOp::Mod;
            }
            continue;
        }
        if (seen != emitted.end()) {
            result.changes[seen->second].generation = it->first;  // deleted again later
        } else if (existedAtSince) {
            emitted.emplace(tomb.ref, result.changes.size());
            result.changes.push_back(Change{tomb.cls, tomb.ref, ChangeOp::Del, it->first, nullptr});
        }
        // Otherwise it was created and deleted after `since`: never seen, left out.
    }

    std::sort(result.changes.begin(), result.changes.end(),
              [](const Change& a, const Change& b) { return a.generation < b.generation; });
    return result;
}

ObjectStore::WaiterId ObjectStore::waitForChange(std::function<void()> notify) {
    const WaiterId id = nextWaiter_++;
    waiters_.emplace(id, std::move(notify));
    return id;
}

void ObjectStore::cancelWait(WaiterId id) noexcept {
    waiters_.erase(id);
}

void ObjectStore::notifyWaiters() {
    // Ids grow monotonically, so the waiters of this change are exactly those
    // with an id below `limit`.  Each is taken out of the map before it runs:
    // a callback may cancel another waiter (it will then not be found here)
    // or register a new one (its id is >= limit, so it waits for the next change).
    const WaiterId limit = nextWaiter_;
    while (!waiters_.empty() && waiters_.begin()->first < limit) {
        auto it = waiters_.begin();
        std::function<void()> notify = std::move(it->second);
        waiters_.erase(it);
        try {
            if (notify) {
                notify();
            }
        } catch (...) {
            // A waiter's failure must not stop the others or undo the change
            // that already happened; the store has nowhere to report it.
        }
    }
}

}  // namespace xenrdp::metrics
