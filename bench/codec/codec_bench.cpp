// Rough throughput of the codec on typical xapi traffic: parsing the
// requests npm xen-api sends and writing a get_all_records-sized response.
// Not a test; run by hand: codec_bench [iterations].
#include <xapi_rpc/codec/json_rpc.hpp>
#include <xapi_rpc/codec/xml_rpc.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace xr = xenrdp::xapi_rpc;

namespace {

template <class Fn>
void measure(const char* label, long iterations, std::size_t bytesPerOp, Fn&& fn) {
    const auto start = std::chrono::steady_clock::now();
    std::size_t sink = 0;
    for (long i = 0; i < iterations; ++i) sink += fn();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    const double perOp = elapsed.count() / static_cast<double>(iterations);
    std::printf("%-34s %9.2f us/op %9.0f ops/s %8.1f MB/s (sink %zu)\n", label, perOp * 1e6,
                1.0 / perOp, static_cast<double>(bytesPerOp) / perOp / 1e6, sink);
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

    const xr::Outcome big = xr::Outcome::ok(records(100));
    const std::size_t xmlSize = xr::xml::serializeResponse(big).size();
    const std::size_t jsonSize = xr::json::serializeResponse(big, "0", xr::json::Version::v2).size();
    measure("xml::serializeResponse 100 VMs", n / 10, xmlSize,
            [&big] { return xr::xml::serializeResponse(big).size(); });
    measure("json::serializeResponse 100 VMs", n / 10, jsonSize,
            [&big] { return xr::json::serializeResponse(big, "0", xr::json::Version::v2).size(); });
    return 0;
}
