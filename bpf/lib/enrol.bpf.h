/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which open TCP sockets the start-up enrolment (enrol.bpf.c) takes. */
#ifndef ZS_ENROL_BPF_H
#define ZS_ENROL_BPF_H

#include "zerospan_abi.h"

#define ZS_ENROL_TCP_ESTABLISHED 1

/*
 * Should an open socket join the injector's sockhash? An established IPv4
 * or IPv6 connection, in the port scope, that connect() gave its local port:
 * connect() takes a port in a bind bucket it marks as its own (fastreuse
 * and fastreuseport -1, which bind() and listen() never set), and an
 * accepted connection shares its listener's bucket. A client that bound its
 * port itself before connecting is left out: it looks like a server.
 */
static __always_inline __u32 zs_enrol_judge(__u16 family, __u8 state, __s8 fastreuse,
					    __s8 fastreuseport, int ports_in_scope)
{
	if ((family != 2 && family != 10) || state != ZS_ENROL_TCP_ESTABLISHED)
		return ZS_ENROL_NOT_OPEN;
	if (fastreuse != -1 || fastreuseport != -1)
		return ZS_ENROL_NOT_CLIENT;
	if (!ports_in_scope)
		return ZS_ENROL_OUT_OF_SCOPE;
	return ZS_ENROL_DONE;
}

#endif
