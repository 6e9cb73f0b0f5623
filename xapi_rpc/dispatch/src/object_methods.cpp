#include "dispatcher_impl.hpp"

#include <chrono>
#include <utility>

#include <xapi_rpc/dispatch/wire_records.hpp>

namespace xenrdp::xapi_rpc::dispatch {
namespace {

using metrics::ObjectClass;

struct ClassDef {
    ObjectClass cls;
    const char* name;  ///< datamodel name, as in method names and HANDLE_INVALID
};

constexpr ClassDef kClasses[] = {
    {ObjectClass::Pool, "pool"},
    {ObjectClass::Host, "host"},
    {ObjectClass::Vm, "VM"},
    {ObjectClass::GuestMetrics, "VM_guest_metrics"},
    {ObjectClass::Console, "console"},
};

}  // namespace

void DispatcherImpl::registerObjects()
{
    using auth::Role;
    for (const ClassDef& def : kClasses) {
        const ObjectClass cls = def.cls;
        const std::string name = def.name;

        // The object `self` names, or HANDLE_INVALID [class, ref].
        auto lookup = [self = this, cls, name](const Invocation& inv, const char* param) {
            const std::string& ref = stringParam(inv, 1, param);
            auto rec = self->store_.get(ref);
            if (!rec || metrics::classOf(*rec) != cls) fail({"HANDLE_INVALID", name, ref});
            return rec;
        };

        addSync(name + ".get_all", 1, Role::ReadOnly, [self = this, cls](Invocation&) {
            Array refs;
            for (auto& [ref, rec] : self->store_.all(cls)) refs.emplace_back(ref);
            return Value(std::move(refs));
        });
        addSync(name + ".get_all_records", 1, Role::ReadOnly, [self = this, cls](Invocation&) {
            Struct out;
            for (const auto& [ref, rec] : self->store_.all(cls)) {
                out.emplace_back(ref, recordValue(*rec, FieldContext{self->store_, ref}));
            }
            return Value(std::move(out));
        });
        addSync(name + ".get_record", 2, Role::ReadOnly, [self = this, lookup](Invocation& inv) {
            auto rec = lookup(inv, "self");
            const std::string& ref = *inv.call.params[1].getIf<std::string>();
            return recordValue(*rec, FieldContext{self->store_, ref});
        });
        addSync(name + ".get_by_uuid", 2, Role::ReadOnly, [self = this, cls, name](Invocation& inv) {
            const std::string& uuid = stringParam(inv, 1, "uuid");
            auto ref = self->store_.findByUuid(cls, uuid);
            if (!ref) fail({"UUID_INVALID", name, uuid});
            return Value(*ref);
        });
        // One getter per field of the class's wire table.
        const auto& fields = wireFields(cls);
        for (std::size_t i = 0; i < fields.size(); ++i) {
            addSync(name + ".get_" + fields[i].name, 2, Role::ReadOnly,
                    [self = this, lookup, cls, i](Invocation& inv) {
                        auto rec = lookup(inv, "self");
                        const std::string& ref = *inv.call.params[1].getIf<std::string>();
                        return wireFields(cls)[i].get(*rec, FieldContext{self->store_, ref});
                    });
        }
    }

    addSync("VM.get_by_name_label", 2, Role::ReadOnly, [self = this](Invocation& inv) {
        const std::string& label = stringParam(inv, 1, "label");
        Array refs;
        for (const auto& [ref, rec] : self->store_.all(ObjectClass::Vm)) {
            const auto* vm = std::get_if<metrics::VmRecord>(rec.get());
            if (vm != nullptr && vm->nameLabel == label) refs.emplace_back(ref);
        }
        return Value(std::move(refs));
    });

    addSync("host.get_servertime", 2, Role::ReadOnly, [self = this](Invocation& inv) {
        const std::string& ref = stringParam(inv, 1, "host");
        if (self->store_.getAs<metrics::HostRecord>(ref) == nullptr) fail({"HANDLE_INVALID", "host", ref});
        return Value(DateTime{formatDateTime(std::chrono::system_clock::now())});
    });

    // Classes xenrdpd has no objects of, served empty so that clients that
    // list or cache them (XenCenter, npm xen-api) find them.
    for (const char* empty : {"role", "task"}) {
        addSync(std::string(empty) + ".get_all", 1, Role::ReadOnly, [](Invocation&) { return Value(Array{}); });
        addSync(std::string(empty) + ".get_all_records", 1, Role::ReadOnly,
                [](Invocation&) { return Value(Struct{}); });
    }
}

}  // namespace xenrdp::xapi_rpc::dispatch
