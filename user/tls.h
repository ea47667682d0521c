/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TLS library discovery: finds OpenSSL and GnuTLS (shared, or linked into an
 * executable with its symbols exported) in the host's library directories,
 * in every traced process at start-up (/proc/PID/maps) and in processes
 * started later (exec events, scanned shortly after and again a little
 * later for libraries loaded with dlopen). Each library file (device,
 * inode) is attached once, for all processes, and reference-counted by the
 * processes that map it: detached when the last one is gone (the host's
 * own libraries stay attached). Go and symbol-less BoringSSL binaries are
 * reported once each as not covered. A Go program's net/http client
 * functions are attached the same way (elfsym.h: a handler's call followed
 * to the goroutine that sends it).
 */
#ifndef ZS_TLS_H
#define ZS_TLS_H

#include <stdint.h>

#include "config.h"
#include "elfsym.h"

struct bpf_program;

struct zs_tls_progs {
	struct bpf_program *entry[ZS_TLS_SYM__COUNT]; /* uprobe per function */
	struct bpf_program *exit;		      /* one uretprobe for all of them */
};

/* proc_root: "/proc" (a test may point elsewhere). Returns 0 or -ENOMEM. */
int zs_tls_init(const struct zs_tls_progs *progs, const struct zs_config *cfg,
		const char *proc_root);
/* Attaches the host's TLS libraries and scans the processes in scope. */
void zs_tls_scan_start(void);
/* A process called exec. */
void zs_tls_on_exec(uint32_t pid, uint64_t now_ns);
/* The dynamic loader of pid ran its dlopen/dlclose hook (the kernel reports
 * it only past start-up): scans pid at the next tick. */
void zs_tls_on_dlopen(uint32_t pid, uint64_t now_ns);
/* Runs due scans and drops processes that are gone (call about every 100 ms). */
void zs_tls_tick(uint64_t now_ns);
/* When the next queued scan is due (CLOCK_MONOTONIC ns); UINT64_MAX: none. */
uint64_t zs_tls_next_due(void);
/* Detaches everything. */
void zs_tls_fini(void);

#endif
