/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vext_assign tracepoints (tracefs events/vext_assign/).
 *
 * Every event names the device by its VM's domid and assigned_dev_id.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vext_assign

#if !defined(_VEXT_ASSIGN_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VEXT_ASSIGN_TRACE_H

#include <linux/tracepoint.h>

/* Assignment changes: what = 0 assign, 1 deassign, 2 gone (removed). */
TRACE_EVENT(vext_assign_dev,
	    TP_PROTO(u16 domid, u32 id, u16 seg, u8 bus, u8 devfn, u32 flags, int what),
	    TP_ARGS(domid, id, seg, bus, devfn, flags, what),
	    TP_STRUCT__entry(__field(u16, domid)
			     __field(u32, id)
			     __field(u16, seg)
			     __field(u8, bus)
			     __field(u8, devfn)
			     __field(u32, flags)
			     __field(int, what)),
	    TP_fast_assign(__entry->domid = domid;
			   __entry->id = id;
			   __entry->seg = seg;
			   __entry->bus = bus;
			   __entry->devfn = devfn;
			   __entry->flags = flags;
			   __entry->what = what;),
	    TP_printk("dom %u dev %u %04x:%02x:%02x.%u flags %#x %s",
		      __entry->domid, __entry->id, __entry->seg, __entry->bus,
		      PCI_SLOT(__entry->devfn), PCI_FUNC(__entry->devfn),
		      __entry->flags,
		      __print_symbolic(__entry->what, { 0, "assign" },
				       { 1, "deassign" }, { 2, "gone" }))
);

/* The INTx of a device was requested (on) or freed (off). */
TRACE_EVENT(vext_assign_irq,
	    TP_PROTO(u16 domid, u32 id, unsigned int irq, bool pci_2_3, bool on),
	    TP_ARGS(domid, id, irq, pci_2_3, on),
	    TP_STRUCT__entry(__field(u16, domid)
			     __field(u32, id)
			     __field(unsigned int, irq)
			     __field(bool, pci_2_3)
			     __field(bool, on)),
	    TP_fast_assign(__entry->domid = domid;
			   __entry->id = id;
			   __entry->irq = irq;
			   __entry->pci_2_3 = pci_2_3;
			   __entry->on = on;),
	    TP_printk("dom %u dev %u irq %u %s %s", __entry->domid, __entry->id,
		      __entry->irq, __entry->pci_2_3 ? "pci-2.3" : "exclusive",
		      __entry->on ? "on" : "off")
);

/* The hard handler claimed an interrupt: delivered or held (guest mask). */
TRACE_EVENT(vext_assign_intx,
	    TP_PROTO(u16 domid, u32 id, unsigned int irq, bool delivered),
	    TP_ARGS(domid, id, irq, delivered),
	    TP_STRUCT__entry(__field(u16, domid)
			     __field(u32, id)
			     __field(unsigned int, irq)
			     __field(bool, delivered)),
	    TP_fast_assign(__entry->domid = domid;
			   __entry->id = id;
			   __entry->irq = irq;
			   __entry->delivered = delivered;),
	    TP_printk("dom %u dev %u irq %u %s", __entry->domid, __entry->id,
		      __entry->irq, __entry->delivered ? "delivered" : "held")
);

/* The guest's INTx mask changed. */
TRACE_EVENT(vext_assign_mask,
	    TP_PROTO(u16 domid, u32 id, bool masked),
	    TP_ARGS(domid, id, masked),
	    TP_STRUCT__entry(__field(u16, domid)
			     __field(u32, id)
			     __field(bool, masked)),
	    TP_fast_assign(__entry->domid = domid;
			   __entry->id = id;
			   __entry->masked = masked;),
	    TP_printk("dom %u dev %u guest %s", __entry->domid, __entry->id,
		      __entry->masked ? "masked" : "unmasked")
);

/*
 * An unmask request (source: 0 ioctl, 1 resample eventfd, 2 guest unmask):
 * result 0 unmasked at the hardware, 1 still asserted (re-assert follows),
 * 2 nothing to do, 3 deferred by the guest's mask.
 */
TRACE_EVENT(vext_assign_unmask,
	    TP_PROTO(u16 domid, u32 id, int source, int result),
	    TP_ARGS(domid, id, source, result),
	    TP_STRUCT__entry(__field(u16, domid)
			     __field(u32, id)
			     __field(int, source)
			     __field(int, result)),
	    TP_fast_assign(__entry->domid = domid;
			   __entry->id = id;
			   __entry->source = source;
			   __entry->result = result;),
	    TP_printk("dom %u dev %u from %s: %s", __entry->domid, __entry->id,
		      __print_symbolic(__entry->source, { 0, "ioctl" },
				       { 1, "resample" }, { 2, "guest-unmask" }),
		      __print_symbolic(__entry->result, { 0, "unmasked" },
				       { 1, "still-asserted" }, { 2, "idle" },
				       { 3, "guest-masked" }))
);

/* The trigger was signalled again for an interrupt still asserted. */
TRACE_EVENT(vext_assign_reassert,
	    TP_PROTO(u16 domid, u32 id),
	    TP_ARGS(domid, id),
	    TP_STRUCT__entry(__field(u16, domid)
			     __field(u32, id)),
	    TP_fast_assign(__entry->domid = domid;
			   __entry->id = id;),
	    TP_printk("dom %u dev %u", __entry->domid, __entry->id)
);

#endif /* _VEXT_ASSIGN_TRACE_H */

/* Out of tree: define_trace.h finds this file through -I$(src). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
