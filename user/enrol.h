/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Start-up enrolment of the client connections already open (bpf/enrol.bpf.c):
 * once the injector is attached, a bpf iterator over each network
 * namespace's TCP sockets puts the established client sockets in its
 * sockhash, so that requests on a keep-alive connection opened before the
 * agent (re)started carry a traceparent too.
 */
#ifndef ZS_ENROL_H
#define ZS_ENROL_H

#include "config.h"

struct bpf_object;

/* Runs the enrolment with the maps of the loaded objects sock (sock.bpf.c)
 * and inj (inject.bpf.c); logs what it did. Returns the number of sockets
 * enrolled, or a negative errno (logged; injection goes on without). */
int zs_enrol_open(struct bpf_object *sock, struct bpf_object *inj, const struct zs_config *cfg);

#endif
