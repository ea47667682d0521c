/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading /proc for the scope, the sockets and the network namespace of a
 * process. */
#ifndef ZS_PROCFS_H
#define ZS_PROCFS_H

#include <stdint.h>

#include "config.h"

/* Is process pid in the --pid/--exe scope, as the kernel programs judge it?
 * Its tgid listed (if any are), its name (proc_root/PID/comm) listed (if
 * any are); never the agent itself. */
int zs_proc_in_scope(const struct zs_config *cfg, const char *proc_root, uint32_t pid);

/* Calls fn with the inode number of each socket open in fd_dir
 * (proc_root/PID/fd). */
void zs_proc_sockets(const char *fd_dir, void (*fn)(unsigned long ino, void *arg), void *arg);

/* Calls fn(pid, arg) for each process under proc_root (its numeric
 * entries), until fn returns nonzero. */
void zs_proc_each(const char *proc_root, int (*fn)(uint32_t pid, void *arg), void *arg);

/* The network namespace process pid is in (the inode number of
 * proc_root/PID/ns/net), 0 if it cannot be read. */
uint64_t zs_proc_netns(const char *proc_root, uint32_t pid);

/* Calls fn once for each network namespace a process under proc_root is in
 * (at most max of them), with a process in it: the first one met whose call
 * returns 0. A call that returns nonzero (its process is gone) leaves the
 * namespace to the next process met in it. Returns the namespaces handled. */
int zs_proc_each_netns(const char *proc_root, int max,
		       int (*fn)(uint32_t pid, uint64_t netns, void *arg), void *arg);

/* Runs fn(arg) on a thread of its own that entered the network namespace of
 * process pid (setns on proc_root/PID/ns/net: CAP_SYS_ADMIN), the calling
 * thread waiting: fn's result, or a negative errno when the namespace could
 * not be entered (the process is gone, no permission). */
int zs_proc_in_netns(const char *proc_root, uint32_t pid, int (*fn)(void *arg), void *arg);

#endif
