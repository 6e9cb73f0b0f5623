// Rough throughput of the codec on typical xapi traffic: parsing the
// requests npm xen-api and Python's xmlrpc.client send, and writing a
// get_all_records-sized response.  Beside ours, the same work done by
// xmlrpc-c alone (its parser without our checks and conversion, and its own
// response serializer), the figures behind "xmlrpc-c for parsing, own
// writer" in docs/PERFORMANCE.md.
// Not a test; run by hand: xenrdp_codec_bench [iterations].
#include <xapi_rpc/codec/json_rpc.hpp>
#include <xapi_rpc/codec/xml_rpc.hpp>

#include <xmlrpc-c/base.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <type_traits>
#include <variant>

namespace xr = xenrdp::xapi_rpc;

namespace {

double threadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Time per operation is the thread's CPU time, which a busy shared machine
// inflates much less than the wall clock (also printed).
template <class Fn>
void measure(const char* label, long iterations, std::size_t bytesPerOp, Fn&& fn) {
    const auto start = std::chrono::steady_clock::now();
    const double cpuStart = threadCpuSeconds();
    std::size_t sink = 0;
    for (long i = 0; i < iterations; ++i) sink += fn();
    const double cpu = threadCpuSeconds() - cpuStart;
    const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
    const double perOp = cpu / static_cast<double>(iterations);
    std::printf("%-37s %8.2f us/op %9.0f ops/s %7.1f MB/s  (wall %.2f us/op; sink %zu)\n", label, perOp * 1e6,
                1.0 / perOp, static_cast<double>(bytesPerOp) / perOp / 1e6,
                wall.count() / static_cast<double>(iterations) * 1e6, sink);
}

// A VM-record-like struct, repeated `vms` times inside a map keyed by ref.
xr::Value records(int vms) {
    xr::Struct all;
    for (int i = 0; i < vms; ++i) {
        xr::Struct vm;
        vm.emplace_back("uuid", xr::Value("30c7a1b2-0000-4000-8000-00000000000" + std::to_string(i % 10)));
        vm.emplace_back("name_label", xr::Value("Windows <" + std::to_string(i) + "> & co"));
        vm.emplace_back("power_state", xr::Value("Running"));
        vm.emplace_back("domid", xr::Value(std::int64_t{i + 1}));
        vm.emplace_back("memory_static_max", xr::Value(std::int64_t{4294967296}));
        vm.emplace_back("is_a_template", xr::Value(false));
        vm.emplace_back("start_time", xr::Value(xr::DateTime{"20250319T04:16:24Z"}));
        vm.emplace_back("VCPUs_utilisation", xr::Value(xr::Struct{{"0", xr::Value(0.25)}}));
        vm.emplace_back("other_config", xr::Value(xr::Struct{{"feature-ts", xr::Value("1")},
                                                             {"data-ts", xr::Value("1")}}));
        vm.emplace_back("VIFs", xr::Value(xr::Array{xr::Value("OpaqueRef:a"), xr::Value("OpaqueRef:b")}));
        all.emplace_back("OpaqueRef:vm-" + std::to_string(i), xr::Value(std::move(vm)));
    }
    return xr::Value(std::move(all));
}

// The same value as an xmlrpc-c value (new reference; the caller decrefs).
xmlrpc_value* toXmlRpcC(xmlrpc_env* env, const xr::Value& value) {
    return std::visit(
        [env](const auto& v) -> xmlrpc_value* {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, xr::Nil>) {
                return xmlrpc_nil_new(env);
            } else if constexpr (std::is_same_v<T, std::string>) {
                return xmlrpc_string_new_lp(env, v.size(), v.data());
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                return xmlrpc_i8_new(env, v);
            } else if constexpr (std::is_same_v<T, xr::Int32>) {
                return xmlrpc_int_new(env, v.value);
            } else if constexpr (std::is_same_v<T, bool>) {
                return xmlrpc_bool_new(env, v ? 1 : 0);
            } else if constexpr (std::is_same_v<T, double>) {
                return xmlrpc_double_new(env, v);
            } else if constexpr (std::is_same_v<T, xr::DateTime>) {
                return xmlrpc_datetime_new_sec(env, std::time_t{1742357784});
            } else if constexpr (std::is_same_v<T, xr::Array>) {
                xmlrpc_value* array = xmlrpc_array_new(env);
                for (const auto& item : v) {
                    xmlrpc_value* x = toXmlRpcC(env, item);
                    xmlrpc_array_append_item(env, array, x);
                    xmlrpc_DECREF(x);
                }
                return array;
            } else {
                xmlrpc_value* st = xmlrpc_struct_new(env);
                for (const auto& [key, item] : v) {
                    xmlrpc_value* x = toXmlRpcC(env, item);
                    xmlrpc_struct_set_value_n(env, st, key.data(), key.size(), x);
                    xmlrpc_DECREF(x);
                }
                return st;
            }
        },
        value.storage());
}

// xmlrpc-c's own serialization of a response, in bytes.
std::size_t xmlRpcCResponse(xmlrpc_env* env, xmlrpc_value* response) {
    xmlrpc_mem_block* out = xmlrpc_mem_block_new(env, 0);
    xmlrpc_serialize_response(env, out, response);
    const std::size_t size = xmlrpc_mem_block_size(out);
    xmlrpc_mem_block_free(out);
    return size;
}

// xmlrpc-c's parser alone: no pre-checks, no conversion to xr::Value.
std::size_t xmlRpcCParse(xmlrpc_env* env, const std::string& body) {
    const char* method = nullptr;
    xmlrpc_value* params = nullptr;
    xmlrpc_parse_call(env, body.data(), body.size(), &method, &params);
    const std::size_t n = params != nullptr ? static_cast<std::size_t>(xmlrpc_array_size(env, params)) : 0;
    if (params != nullptr) xmlrpc_DECREF(params);
    std::free(const_cast<char*>(method));
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 20000;
    const std::string xmlEventFrom =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodCall><methodName>event.from</methodName>"
        "<params><param><value>OpaqueRef:d19d</value></param><param><value><array><data>"
        "<value>role</value><value>pool</value><value>host</value><value>VM</value>"
        "<value>VM_guest_metrics</value><value>network</value><value>VIF</value></data></array>"
        "</value></param><param><value>00000000000000000007,00000000000000000000</value></param>"
        "<param><value><double>60.1</double></value></param></params></methodCall>";
    const std::string jsonEventFrom =
        R"({"id":0,"jsonrpc":"2.0","method":"event.from","params":["OpaqueRef:004fd3cf",)"
        R"(["role","pool","host","VM","VM_guest_metrics","network","VIF"],)"
        R"("00000000000000000007,00000000000000000000",60.1]})";
    measure("xml::parseCall event.from", n, xmlEventFrom.size(),
            [&xmlEventFrom] { return xr::xml::parseCall(xmlEventFrom).value().params.size(); });
    measure("json::parseRequest event.from", n, jsonEventFrom.size(),
            [&jsonEventFrom] { return xr::json::parseRequest(jsonEventFrom).value().call.params.size(); });
    // Python's xmlrpc.client: <string> tags and a newline between tags.
    const std::string xmlPythonCallPlugin =
        "<?xml version='1.0'?>\n<methodCall>\n<methodName>VM.call_plugin</methodName>\n<params>\n"
        "<param>\n<value><string>OpaqueRef:004fd3cf-cbee-4cb5-b02a-80911a029a8d</string></value>\n</param>\n"
        "<param>\n<value><string>OpaqueRef:80070e2b-e05a-4b2a-99b5-a3717ba10e31</string></value>\n</param>\n"
        "<param>\n<value><string>guest-agent-operation</string></value>\n</param>\n"
        "<param>\n<value><string>request-rdp-on</string></value>\n</param>\n"
        "<param>\n<value><struct>\n</struct></value>\n</param>\n</params>\n</methodCall>\n";
    measure("xml::parseCall call_plugin (Python)", n, xmlPythonCallPlugin.size(),
            [&xmlPythonCallPlugin] { return xr::xml::parseCall(xmlPythonCallPlugin).value().params.size(); });

    std::printf("request bytes: XML event.from %zu, JSON event.from %zu, Python XML call_plugin %zu\n",
                xmlEventFrom.size(), jsonEventFrom.size(), xmlPythonCallPlugin.size());

    xmlrpc_env env;
    xmlrpc_env_init(&env);
    measure("xmlrpc-c alone: parse event.from", n, xmlEventFrom.size(),
            [&env, &xmlEventFrom] { return xmlRpcCParse(&env, xmlEventFrom); });
    measure("xmlrpc-c alone: parse call_plugin", n, xmlPythonCallPlugin.size(),
            [&env, &xmlPythonCallPlugin] { return xmlRpcCParse(&env, xmlPythonCallPlugin); });

    const xr::Outcome big = xr::Outcome::ok(records(100));
    const std::size_t xmlSize = xr::xml::serializeResponse(big).size();
    const std::size_t jsonSize = xr::json::serializeResponse(big, "0", xr::json::Version::v2).size();
    measure("xml::serializeResponse 100 VMs", n / 10, xmlSize,
            [&big] { return xr::xml::serializeResponse(big).size(); });
    measure("json::serializeResponse 100 VMs", n / 10, jsonSize,
            [&big] { return xr::json::serializeResponse(big, "0", xr::json::Version::v2).size(); });

    // xmlrpc-c's serializer on the same {Status, Value} struct, built once.
    xmlrpc_value* response = toXmlRpcC(&env, xr::Value(xr::Struct{{"Status", xr::Value("Success")},
                                                                   {"Value", big.result}}));
    const std::size_t cSize = xmlRpcCResponse(&env, response);
    measure("xmlrpc-c serialize_response 100 VMs", n / 10, cSize,
            [&env, response] { return xmlRpcCResponse(&env, response); });
    std::printf("response bytes: ours %zu, xmlrpc-c %zu, JSON %zu%s\n", xmlSize, cSize, jsonSize,
                env.fault_occurred ? " (xmlrpc-c reported a fault)" : "");
    xmlrpc_DECREF(response);
    xmlrpc_env_clean(&env);
    return env.fault_occurred ? 1 : 0;
}
