// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "loader.h"

#include "events.h"
#include "log.h"
#include "metrics.h"
#include "sock.skel.h"
#include "zerospan_abi.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define TRACEFS_MAGIC_ 0x74726163
#define MAX_LINKS 64

struct zs_loader {
	struct sock_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS];
	int n_links;
};

static int drops_fd = -1;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;

	if (zs_log_level > ZS_LOG_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	log_debug("libbpf: %s", buf);
	return 0;
}

/* Syscall tracepoints are looked up in tracefs: mount it if nobody did. */
static int ensure_tracefs(void)
{
	struct statfs st;

	if (access("/sys/kernel/tracing/events/syscalls", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0)
		return 0;
	if (statfs("/sys/kernel/tracing", &st) == 0 && st.f_type == TRACEFS_MAGIC_)
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL)) {
		log_error("mount tracefs on /sys/kernel/tracing: %s", strerror(errno));
		return -errno;
	}
	log_info("mounted tracefs on /sys/kernel/tracing");
	return 0;
}

static int tracepoint_exists(const char *cat, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/%s", cat, name);
	if (access(path, F_OK) == 0)
		return 1;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s/%s", cat, name);
	return access(path, F_OK) == 0;
}

/* tp_btf programs need the tracepoint's btf_trace_<name> typedef. */
static int btf_has_tracepoint(const struct btf *btf, const char *name)
{
	char tn[128];

	snprintf(tn, sizeof(tn), "btf_trace_%s", name);
	return btf && btf__find_by_name_kind(btf, tn, BTF_KIND_TYPEDEF) > 0;
}

void zs_loader_read_drops(uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus(), i, c;
	uint64_t *vals;

	if (drops_fd < 0 || ncpu <= 0)
		return;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (i = 0; i < ZS_DROP__COUNT; i++) {
		uint32_t key = (uint32_t)i;

		if (bpf_map_lookup_elem(drops_fd, &key, vals))
			continue;
		for (c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
}

static int fill_scope(struct zs_loader *l, const struct zs_config *cfg)
{
	uint8_t one = 1;
	int i, err;

	for (i = 0; i < cfg->n_pids; i++) {
		err = bpf_map__update_elem(l->skel->maps.scope_pids, &cfg->pids[i],
					   sizeof(uint32_t), &one, 1, BPF_ANY);
		if (err)
			return err;
	}
	for (i = 0; i < cfg->n_exes; i++) {
		char comm[16] = { 0 };

		memcpy(comm, cfg->exes[i], strnlen(cfg->exes[i], 15));
		err = bpf_map__update_elem(l->skel->maps.scope_comms, comm, sizeof(comm), &one, 1,
					   BPF_ANY);
		if (err)
			return err;
	}
	for (i = 0; i < cfg->n_ports; i++) {
		err = bpf_map__update_elem(l->skel->maps.scope_ports, &cfg->ports[i],
					   sizeof(uint16_t), &one, 1, BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

struct zs_loader *zs_loader_open(const struct zs_config *cfg)
{
	struct zs_loader *l = calloc(1, sizeof(*l));
	struct btf *vmlinux = NULL;
	struct bpf_program *prog;
	int err, ncpu;
	uint64_t rb_bytes = (uint64_t)cfg->ringbuf_mb << 20;

	if (!l)
		return NULL;
	libbpf_set_print(libbpf_log);
	if (geteuid() != 0)
		log_warn("not running as root: loading BPF needs CAP_BPF, CAP_PERFMON and "
			 "CAP_SYS_ADMIN "
			 "(or root); expect a permission error");
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		log_error("missing /sys/kernel/btf/vmlinux: this kernel has no BTF "
			  "(CONFIG_DEBUG_INFO_BTF=y is needed)");
		goto fail;
	}
	if (ensure_tracefs())
		goto fail;
	vmlinux = btf__load_vmlinux_btf();
	if (!btf_has_tracepoint(vmlinux, "sock_send_length") ||
	    !btf_has_tracepoint(vmlinux, "sock_recv_length")) {
		log_error(
			"this kernel lacks the sock:sock_send_length/sock_recv_length tracepoints "
			"(Linux 6.3 or later is needed)");
		goto fail;
	}
	if (!btf_has_tracepoint(vmlinux, "inet_sock_set_state")) {
		log_error("this kernel lacks the sock:inet_sock_set_state tracepoint");
		goto fail;
	}

	l->skel = sock_bpf__open();
	if (!l->skel) {
		log_error("open BPF object: %s", strerror(errno));
		goto fail;
	}
	l->skel->rodata->agent_tgid = (uint32_t)getpid();
	l->skel->rodata->capture_size = cfg->capture_size;
	/* An eighth of the ring unread wakes the agent, shared among the CPUs. */
	ncpu = libbpf_num_possible_cpus();
	l->skel->rodata->wakeup_bytes = rb_bytes / 8 / (uint64_t)(ncpu > 0 ? ncpu : 1);
	l->skel->rodata->filter_pids = cfg->n_pids > 0;
	l->skel->rodata->filter_comms = cfg->n_exes > 0;
	l->skel->rodata->filter_ports = cfg->n_ports > 0;
	bpf_map__set_max_entries(l->skel->maps.events, (uint32_t)rb_bytes);
	ncpu = libbpf_num_possible_cpus();
	if (ncpu > 0)
		bpf_map__set_max_entries(l->skel->maps.scratch, (uint32_t)ncpu);

	/* Load only what this kernel has: a missing syscall tracepoint (some
	 * architectures lack sendfile64, say) costs that syscall, not the agent. */
	bpf_object__for_each_program(prog, l->skel->obj)
	{
		const char *sec = bpf_program__section_name(prog);

		if (strncmp(sec, "tracepoint/", 11) == 0) {
			char cat[64], name[128];

			if (sscanf(sec + 11, "%63[^/]/%127s", cat, name) == 2 &&
			    !tracepoint_exists(cat, name)) {
				log_warn("tracepoint %s/%s not found: %s not traced", cat, name,
					 bpf_program__name(prog));
				bpf_program__set_autoload(prog, false);
			}
		}
	}

	err = sock_bpf__load(l->skel);
	if (err) {
		log_error("load BPF programs: %s%s", strerror(-err),
			  err == -EPERM ? " (run as root, or see docs/CAPABILITIES.md)"
					: " (run with -v for the verifier log)");
		goto fail;
	}
	drops_fd = bpf_map__fd(l->skel->maps.drops);
	zs_metrics_set_kernel_source(zs_loader_read_drops);
	err = fill_scope(l, cfg);
	if (err) {
		log_error("fill scope maps: %s", strerror(-err));
		goto fail;
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.events), zs_events_handle, NULL, NULL);
	if (!l->rb) {
		log_error("ring buffer: %s", strerror(errno));
		goto fail;
	}
	bpf_object__for_each_program(prog, l->skel->obj)
	{
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		if (l->n_links >= MAX_LINKS) {
			log_error("too many programs");
			goto fail;
		}
		link = bpf_program__attach(prog);
		if (!link) {
			log_error("attach %s (%s): %s", bpf_program__name(prog),
				  bpf_program__section_name(prog), strerror(errno));
			goto fail;
		}
		l->links[l->n_links++] = link;
	}
	btf__free(vmlinux);
	log_info("attached %d programs (capture %u bytes, ringbuf %u MiB)", l->n_links,
		 cfg->capture_size, cfg->ringbuf_mb);
	return l;
fail:
	btf__free(vmlinux);
	zs_loader_close(l);
	return NULL;
}

struct ring_buffer *zs_loader_ringbuf(struct zs_loader *l)
{
	return l->rb;
}

int zs_loader_attached(const struct zs_loader *l)
{
	return l->n_links;
}

void zs_loader_close(struct zs_loader *l)
{
	int i;

	if (!l)
		return;
	for (i = 0; i < l->n_links; i++)
		bpf_link__destroy(l->links[i]);
	ring_buffer__free(l->rb);
	zs_metrics_set_kernel_source(NULL);
	drops_fd = -1;
	sock_bpf__destroy(l->skel);
	free(l);
}
