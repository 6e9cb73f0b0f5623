#pragma once
/// The XenAPI wire form of the metrics records: one field table per class,
/// in xapi's datamodel names, with xapi-like defaults for what xenrdpd does
/// not track (reference xapi-rdp-and-wire.md §3.1, §8; xenapi-clients.md §5.3).
///
/// Every object of a class gets the identical field set in the same order
/// (npm xen-api builds a class's shape from the first record it sees).
/// Pure functions over a store; call them on the store's executor.
#include <functional>
#include <string>
#include <vector>

#include <metrics/object_store.hpp>
#include <metrics/records.hpp>
#include <xapi_rpc/codec/value.hpp>

namespace xenrdp::xapi_rpc::dispatch {

/// What a field may look at besides its own record: the store (for computed
/// fields such as host.resident_VMs) and the object's ref.
struct FieldContext {
    const metrics::ObjectStore& store;
    const std::string& ref;
};

/// One field of a class: its datamodel name and how to read it.
struct WireField {
    std::string name;
    std::function<Value(const metrics::Record&, const FieldContext&)> get;
};

/// The fields of `cls` in wire order. The records passed to `get` must hold
/// the alternative of `cls`. Tables are built once and never change.
const std::vector<WireField>& wireFields(metrics::ObjectClass cls);

/// The full record struct (as get_record and event snapshots send it).
Value recordValue(const metrics::Record& record, const FieldContext& ctx);

/// xapi's DateTime text "YYYYMMDDTHH:MM:SSZ" (UTC) of a time point.
std::string formatDateTime(metrics::TimePoint t);

/// OCaml string_of_float: "%.12g", with a "." appended when the result
/// looks like an integer ("10." for 10.0, "7.5" for 7.5).
std::string ocamlFloat(double value);

/// host.software_version used when the daemon's HostRecord leaves it empty:
/// numeric dotted product_version (os-xenapi parses it) and platform_version
/// >= 2.9.50 (XenCenter refuses older), product_brand "XenServer" (official
/// XenCenter builds refuse other brands), no xencenter_min/max (XenCenter
/// then skips its GUI version gate).
metrics::StringMap defaultSoftwareVersion();

}  // namespace xenrdp::xapi_rpc::dispatch
