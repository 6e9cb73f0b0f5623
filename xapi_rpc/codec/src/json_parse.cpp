// JSON-RPC request parsing: nlohmann-json's SAX parser feeds a small builder
// that creates Values directly (no intermediate json tree), enforces the
// depth limit as containers open, and keeps object keys in document order.
// nlohmann's SAX parser is iterative and validates UTF-8 in strings.
#include <xapi_rpc/codec/json_rpc.hpp>

#include <nlohmann/json.hpp>

#include <limits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace xenrdp::xapi_rpc::json {

namespace {

using nlohmann::json;

// True if some key occurs twice. Small objects are checked pairwise, large
// ones with a hash set, so a hostile object cannot cost O(n^2).
bool hasDuplicateKeys(const Struct& members) {
    if (members.size() <= 8) {
        for (std::size_t i = 0; i < members.size(); ++i) {
            for (std::size_t k = i + 1; k < members.size(); ++k) {
                if (members[i].first == members[k].first) return true;
            }
        }
        return false;
    }
    std::unordered_set<std::string_view> seen;
    seen.reserve(members.size());
    for (const auto& member : members) {
        if (!seen.insert(member.first).second) return true;
    }
    return false;
}

// Repeated keys: the first position is kept and the last value wins, as
// xmlrpc-c does for XML structs.
void mergeDuplicateKeys(Struct& members) {
    if (members.size() < 2 || !hasDuplicateKeys(members)) return;
    Struct merged;
    std::unordered_map<std::string, std::size_t> index;
    index.reserve(members.size());
    for (auto& member : members) {
        auto [it, inserted] = index.try_emplace(member.first, merged.size());
        if (inserted) {
            merged.push_back(std::move(member));
        } else {
            merged[it->second].second = std::move(member.second);
        }
    }
    members = std::move(merged);
}

// SAX handler building one Value. Each open array/object is a Frame on the
// stack; a finished value goes into the top frame, or becomes the root.
class ValueBuilder {
public:
    explicit ValueBuilder(std::size_t maxDepth) : maxDepth_(maxDepth) {}

    bool null() { return add(Value(Nil{})); }
    bool boolean(bool b) { return add(Value(b)); }
    bool number_integer(json::number_integer_t i) { return add(Value(static_cast<std::int64_t>(i))); }
    bool number_unsigned(json::number_unsigned_t u) {
        if (u > static_cast<json::number_unsigned_t>(std::numeric_limits<std::int64_t>::max())) {
            return fail("integer out of range: " + std::to_string(u));
        }
        return add(Value(static_cast<std::int64_t>(u)));
    }
    bool number_float(json::number_float_t d, const json::string_t& text) {
        // nlohmann turns integer literals beyond 64 bits into doubles; xapi
        // (Int64.of_string) rejects them, and so do we.
        if (text.find_first_of(".eE") == json::string_t::npos) {
            return fail("integer out of range: " + text.substr(0, 40));
        }
        return add(Value(d));
    }
    bool string(json::string_t& s) { return add(Value(std::move(s))); }
    bool binary(json::binary_t& /*unused*/) { return fail("binary values are not JSON"); }
    bool start_object(std::size_t /*unused*/) { return open(Value(Struct{})); }
    bool key(json::string_t& k) {
        stack_.back().key = std::move(k);
        return true;
    }
    bool end_object() {
        Frame frame = std::move(stack_.back());
        stack_.pop_back();
        mergeDuplicateKeys(std::get<Struct>(frame.container.storage()));
        return add(std::move(frame.container));
    }
    bool start_array(std::size_t /*unused*/) { return open(Value(Array{})); }
    bool end_array() {
        Frame frame = std::move(stack_.back());
        stack_.pop_back();
        return add(std::move(frame.container));
    }
    bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                     const nlohmann::detail::exception& ex) {
        return fail(ex.what());
    }

    const std::string& error() const noexcept { return error_; }
    Value takeRoot() { return std::move(root_); }

private:
    struct Frame {
        Value container;
        std::string key;  // pending member name while inside an object
    };

    bool open(Value container) {
        if (stack_.size() >= maxDepth_) {
            return fail("JSON nesting deeper than " + std::to_string(maxDepth_));
        }
        stack_.push_back(Frame{std::move(container), {}});
        return true;
    }

    bool add(Value v) {
        if (stack_.empty()) {
            root_ = std::move(v);
            return true;
        }
        Frame& top = stack_.back();
        if (auto* members = std::get_if<Struct>(&top.container.storage())) {
            members->emplace_back(std::move(top.key), std::move(v));
        } else {
            std::get<Array>(top.container.storage()).push_back(std::move(v));
        }
        return true;
    }

    bool fail(std::string message) {
        if (error_.empty()) error_ = std::move(message);
        return false;
    }

    std::size_t maxDepth_;
    std::vector<Frame> stack_;
    Value root_;
    std::string error_;
};

const Value* findMember(const Struct& members, std::string_view name) {
    for (const auto& [key, value] : members) {
        if (key == name) return &value;
    }
    return nullptr;
}

ParseError malformed(std::string_view why) {
    return ParseError{"malformed JSON-RPC request: " + std::string(why)};
}

}  // namespace

ParseResult<JsonRequest> parseRequest(std::string_view body, const JsonLimits& limits) {
    if (body.size() > limits.maxBytes) {
        return malformed("body of " + std::to_string(body.size()) + " bytes exceeds the limit of " +
                         std::to_string(limits.maxBytes));
    }
    ValueBuilder builder(limits.maxDepth);
    bool parsed = false;
    try {
        parsed = json::sax_parse(body.begin(), body.end(), &builder);
    } catch (const std::exception& ex) {
        // sax_parse reports errors through the handler; this is a safety net.
        return malformed(ex.what());
    }
    if (!parsed) return malformed(builder.error().empty() ? "invalid JSON" : builder.error());

    Value root = builder.takeRoot();
    auto* members = std::get_if<Struct>(&root.storage());
    if (members == nullptr) return malformed("the body is not a JSON object");

    JsonRequest request;
    const Value* method = findMember(*members, "method");
    if (method == nullptr || !method->is<std::string>()) {
        return malformed("field 'method' is missing or not a string");
    }
    request.call.method = *method->getIf<std::string>();

    const Value* version = findMember(*members, "jsonrpc");
    if (version == nullptr) {
        request.version = Version::v1;
    } else if (const auto* text = version->getIf<std::string>(); text != nullptr && *text == "2.0") {
        request.version = Version::v2;
    } else {
        return malformed("field 'jsonrpc' must be \"2.0\"");
    }

    Value* params = nullptr;
    for (auto& [key, value] : *members) {
        if (key == "params") params = &value;
    }
    if (params != nullptr && params->is<Array>()) {
        request.call.params = std::move(std::get<Array>(params->storage()));
    } else if (request.version == Version::v1) {
        return malformed("field 'params' must be an array");
    } else if (params == nullptr || params->is<Nil>()) {
        // v2 allows omitting params.
    } else if (params->is<Struct>()) {
        request.call.params.push_back(std::move(*params));
    } else {
        return malformed("field 'params' must be an array or an object");
    }

    const Value* id = findMember(*members, "id");
    if (id != nullptr && id->is<std::int64_t>()) {
        request.idJson = std::to_string(*id->getIf<std::int64_t>());
    } else if (id != nullptr && id->is<std::string>()) {
        appendString(request.idJson, *id->getIf<std::string>());
    } else {
        return malformed("field 'id' must be an integer or a string");
    }
    return request;
}

}  // namespace xenrdp::xapi_rpc::json
