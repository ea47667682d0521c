/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading /proc for the scope and the sockets of a process. */
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

#endif
