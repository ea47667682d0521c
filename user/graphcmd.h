/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `zerospan graph [--dot|--json] [--admin-addr=HOST:PORT]`: prints the
 * service graph of a running agent, fetched from its admin endpoint. */
#ifndef ZS_GRAPHCMD_H
#define ZS_GRAPHCMD_H

/* argv[0] is "graph". Returns the process exit code. */
int zs_graph_command(int argc, char **argv);

#endif
