/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Admin HTTP endpoint: /metrics (Prometheus text), /readyz, /healthz. */
#ifndef ZS_ADMIN_H
#define ZS_ADMIN_H

#include <stdatomic.h>

/* Set once every probe is attached: /readyz answers 200 from then on. */
extern atomic_int zs_ready;

/* Listens on "host:port" (IPv4 or [IPv6]). Returns 0 or -errno. */
int zs_admin_start(const char *addr);
void zs_admin_stop(void);

#endif
