// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "loader.h"

#include "clock.h"
#include "enrol.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "inject.skel.h"
#include "sock.skel.h"
#include "tls.h"
#include "yield.h"
#include "zerospan_abi.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define TRACEFS_MAGIC_ 0x74726163
#define MAX_LINKS 64

struct zs_loader {
	struct sock_bpf *skel;
	struct inject_bpf *inj;
	int cgroup_fd;
	int msg_link_fd;  /* sk_msg link on the sockhash, or -1 */
	int skb_link_fd;  /* pass-all skb verdict link (reads fix), or -1 */
	int msg_attached; /* sk_msg attached the old way (no link) */
	struct ring_buffer *rb;
	void *rb_pos;		    /* the ring's consumer and producer position pages, read-only */
	uint64_t rb_size;	    /* its data bytes */
	unsigned long rb_seen_cons; /* consumer position at rb_seen_ns (zs_loader_backlog) */
	uint64_t rb_seen_ns;
	struct bpf_link *links[MAX_LINKS];
	int n_links;
	int tls; /* the TLS programs are loaded (cfg->tls, unless the kernel refused them) */
	struct zs_io_hooks {
		int send_begin; /* tcp:tcp_sendmsg_locked (Linux 6.16) */
		/* no sock:sock_{send,recv}_length (before 6.3): fexit programs on
		 * the socket layer's calls stand in, with these of them there */
		int fexit, inet6, sendpage;
		/* no tcp_sendmsg_locked: fentry on inet(6)_sendmsg times the
		 * sends, unless the kernel refuses it (then syscall tracepoints) */
		int fentry_begin;
	} io;
};

static int drops_fd = -1, inject_stats_fd = -1, let_go_fd = -1;

/* The ring's unread bytes that wake the agent, shared among the CPUs: 1/this.
 * A half (an eighth until 2026-12-03): fewer wakeups, the agent 4-10 % less
 * CPU and the socket programs ~5 % less, side by side; the export queue's
 * backpressure (export.c) absorbs the larger drains, and gives up at three
 * quarters of the ring. */
#define ZS_WAKEUP_SHARE 2

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *buf = NULL, *line, *save = NULL;

	if (zs_log_level > ZS_LOG_DEBUG)
		return 0;
	/* Verifier logs come as one long message: print it whole, a line each. */
	if (vasprintf(&buf, fmt, ap) < 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_debug("libbpf: %s", line);
	free(buf);
	return 0;
}

/* tp_btf programs need the tracepoint's btf_trace_<name> typedef. */
static int btf_has_tracepoint(const struct btf *btf, const char *name)
{
	char tn[128];

	snprintf(tn, sizeof(tn), "btf_trace_%s", name);
	return btf && btf__find_by_name_kind(btf, tn, BTF_KIND_TYPEDEF) > 0;
}

static int btf_has_func(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
}

/* Does the kernel know helper name (BPF_FUNC_...)? enum bpf_func_id says. */
static int btf_has_helper(const struct btf *btf, const char *name)
{
	int id = btf ? btf__find_by_name_kind(btf, "bpf_func_id", BTF_KIND_ENUM) : -1;
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, (__u32)id) : NULL;
	const struct btf_enum *e = t ? btf_enum(t) : NULL;
	int i;

	for (i = 0; e && i < btf_vlen(t); i++) {
		if (strcmp(btf__name_by_offset(btf, e[i].name_off), name) == 0)
			return 1;
	}
	return 0;
}

/* Sums the n per-CPU counters of an array map into out[n]. */
static void sum_percpu(int fd, int n, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus(), i, c;
	uint64_t *vals;

	if (fd < 0 || ncpu <= 0)
		return;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (i = 0; i < n; i++) {
		uint32_t key = (uint32_t)i;

		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
}

void zs_loader_read_drops(uint64_t *out)
{
	sum_percpu(drops_fd, ZS_DROP__COUNT, out);
}

void zs_loader_read_inject(uint64_t *out)
{
	sum_percpu(inject_stats_fd, ZS_INJ__COUNT, out);
}

void zs_loader_read_let_go(uint64_t *out)
{
	sum_percpu(let_go_fd, ZS_LET_GO__COUNT, out);
}

/* Does path exist? Checked with the effective credentials and capabilities
 * (access() would use the real uid and ignore capabilities: an agent running
 * as a non-root user with CAP_DAC_READ_SEARCH would see no tracefs). */
static int path_exists(const char *path)
{
	return faccessat(AT_FDCWD, path, F_OK, AT_EACCESS) == 0;
}

/* Syscall tracepoints are looked up in tracefs: mount it if nobody did. */
static int ensure_tracefs(void)
{
	struct statfs st;

	if (path_exists("/sys/kernel/tracing/events/syscalls") ||
	    path_exists("/sys/kernel/debug/tracing/events/syscalls"))
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
	if (path_exists(path))
		return 1;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s/%s", cat, name);
	return path_exists(path);
}

/*
 * When a send began: tcp:tcp_sendmsg_locked (Linux 6.16) says so from inside
 * the TCP stack. Without it (or with ZEROSPAN_SEND_TIME=syscalls, which tests
 * the fallback), the write syscalls' entry tracepoints do, at a cost to every
 * syscall on the host; without those either, sent data is stamped when its
 * send returns (on one host the peer may have read it by then).
 */
static void choose_send_time(struct sock_bpf *skel, int have_tcp_tp, bool force_syscalls)
{
	int syscalls = !have_tcp_tp || force_syscalls, missing = 0;
	struct bpf_program *prog;

	if (syscalls && ensure_tracefs())
		syscalls = 0;
	bpf_object__for_each_program(prog, skel->obj)
	{
		const char *sec = bpf_program__section_name(prog);
		char cat[64], name[128];

		if (strncmp(sec, "tracepoint/", 11) != 0)
			continue;
		if (!syscalls)
			bpf_program__set_autoload(prog, false);
		else if (sscanf(sec + 11, "%63[^/]/%127s", cat, name) == 2 &&
			 !tracepoint_exists(cat, name)) {
			bpf_program__set_autoload(prog, false);
			missing++;
		}
	}
	if (syscalls || !have_tcp_tp)
		bpf_program__set_autoload(skel->progs.zs_send_begin, false);
	if (syscalls) {
		log_info("sends timed by the write syscalls' entry tracepoints%s",
			 have_tcp_tp ? " (ZEROSPAN_SEND_TIME=syscalls)"
				     : ": this kernel has no tcp:tcp_sendmsg_locked (Linux 6.16)");
	} else if (!have_tcp_tp) {
		log_warn("no tcp:tcp_sendmsg_locked nor syscall tracepoints: sends are timed at "
			 "their end");
	}
	if (missing)
		log_warn("%d write syscall tracepoints not found: those sends are timed at their "
			 "end",
			 missing);
}

/*
 * Which programs see socket data: sock:sock_{send,recv}_length (Linux 6.3)
 * and a send-start source (choose_send_time), or before 6.3 fexit programs
 * on inet(6)_sendmsg/recvmsg (and inet_sendpage for sendfile, before 6.5),
 * with their fentry twins giving a send's start. Loads only the one set.
 */
static void choose_io_hooks(struct sock_bpf *skel, const struct zs_io_hooks *io,
			    bool force_syscalls)
{
	struct bpf_program *fexit_progs[] = { skel->progs.zs_inet_send, skel->progs.zs_inet_recv,
					      skel->progs.zs_inet_send_begin };
	struct bpf_program *inet6_progs[] = { skel->progs.zs_inet6_send, skel->progs.zs_inet6_recv,
					      skel->progs.zs_inet6_send_begin };
	struct bpf_program *prog;
	size_t i;

	for (i = 0; i < sizeof(fexit_progs) / sizeof(fexit_progs[0]); i++) {
		bpf_program__set_autoload(fexit_progs[i], io->fexit);
		bpf_program__set_autoload(inet6_progs[i], io->fexit && io->inet6);
	}
	bpf_program__set_autoload(skel->progs.zs_inet_sendpage, io->fexit && io->sendpage);
	if (!io->fexit && !io->fentry_begin) {
		choose_send_time(skel, io->send_begin, force_syscalls);
		return;
	}
	if (io->fentry_begin) {
		bpf_program__set_autoload(skel->progs.zs_inet_send_begin, true);
		bpf_program__set_autoload(skel->progs.zs_inet6_send_begin, io->inet6);
		log_info("sends timed by fentry programs on inet_sendmsg%s: %s",
			 io->inet6 ? "/inet6_sendmsg" : "",
			 io->send_begin ? "ZEROSPAN_SEND_TIME=fentry"
					: "this kernel has no tcp:tcp_sendmsg_locked (Linux 6.16)");
	} else {
		bpf_program__set_autoload(skel->progs.zs_sock_send, false);
		bpf_program__set_autoload(skel->progs.zs_sock_recv, false);
	}
	bpf_program__set_autoload(skel->progs.zs_send_begin, false);
	bpf_object__for_each_program(prog, skel->obj)
	{
		if (strncmp(bpf_program__section_name(prog), "tracepoint/", 11) == 0)
			bpf_program__set_autoload(prog, false);
	}
}

/* The cgroup v2 root, where sockops sees every socket of the host. */
static int open_cgroup2_root(void)
{
	char line[512], dev[128], dir[256], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");
	int fd = -1;

	while (f && fd < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %255s %63s", dev, dir, type) == 3 &&
		    strcmp(type, "cgroup2") == 0)
			fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (f)
		fclose(f);
	if (fd < 0 && (mkdir("/run/zerospan-cgroup2", 0755) == 0 || errno == EEXIST) &&
	    mount("cgroup2", "/run/zerospan-cgroup2", "cgroup2", 0, NULL) == 0)
		fd = open("/run/zerospan-cgroup2", O_RDONLY | O_DIRECTORY);
	return fd;
}

/* What sockhash_reads_broken() found wrong with reads of a socket in the
 * sockhash (bits). */
enum {
	ZS_READS_WAKEUP = 1,   /* the data's arrival woke no epoll waiter */
	ZS_READS_FIONREAD = 2, /* FIONREAD did not count it */
	ZS_READS_SPLICE = 4,   /* splice() did not get it */
	ZS_READS_UNTESTED = 8, /* the test itself could not run */
};

/* The bits of `broken` in words, for the log. */
static const char *reads_broken_str(int broken, char *buf, size_t cap)
{
	static const char *const what[] = { "no wakeup of arriving data", "FIONREAD wrong",
					    "splice() gets no data", "could not be tested" };
	size_t at = 0, i;

	buf[0] = 0;
	for (i = 0; i < sizeof(what) / sizeof(what[0]); i++)
		if (broken & (1 << i))
			at += (size_t)snprintf(buf + at, at < cap ? cap - at : 0, "%s%s",
					       at ? ", " : "", what[i]);
	return buf;
}

/*
 * Self-test: do reads of a socket in the sockhash still work as apps expect?
 * A loopback pair made here, the client side put in the map, its peer then
 * writes 8 bytes. Their arrival must wake a waiter (epoll, registered
 * before: event loops such as node's, Go's and asyncio's wait so), FIONREAD
 * must count them (nginx sizes its reads by it) and splice() must move them
 * (Go's io.Copy between two TCP connections, docker-proxy, haproxy). Kernels
 * with 929e30f93125 (6.15+; 6.6.128+, 6.12.75+, 6.18.14+ among the stable
 * ones) answer FIONREAD from the psock's queue alone and may lose the
 * wakeup, for a socket whose psock has no verdict program; with one, the
 * received data goes through that queue, where splice() does not look.
 * Returns 0 (all right) or ZS_READS_* bits.
 */
static int sockhash_reads_broken(int map_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1, a = -1, ep = -1, n = -1;
	int pp[2] = { -1, -1 }, broken = ZS_READS_UNTESTED;
	uint64_t key = 0, fd_val;
	socklen_t kl = sizeof(key);
	struct epoll_event ev = { .events = EPOLLIN };
	char got[8];
	ssize_t k;

	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl))
		goto out;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)))
		goto out;
	a = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	/* non-blocking: splice() waits on the socket's own flag */
	if (a < 0 || ep < 0 || pipe2(pp, O_CLOEXEC | O_NONBLOCK) || fcntl(c, F_SETFL, O_NONBLOCK) ||
	    getsockopt(c, SOL_SOCKET, SO_COOKIE, &key, &kl))
		goto out;
	fd_val = (uint64_t)c;
	if (bpf_map_update_elem(map_fd, &key, &fd_val, BPF_ANY))
		goto out;
	ev.data.fd = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) == 0 && write(a, "zerospan", 8) == 8) {
		broken = 0;
		if (epoll_wait(ep, &ev, 1, 1000) != 1)
			broken |= ZS_READS_WAKEUP;
		if (ioctl(c, FIONREAD, &n) || n != 8)
			broken |= ZS_READS_FIONREAD;
		k = splice(c, NULL, pp[1], NULL, 8, SPLICE_F_NONBLOCK);
		if (k != 8 || read(pp[0], got, 8) != 8 || memcmp(got, "zerospan", 8))
			broken |= ZS_READS_SPLICE;
	}
	bpf_map_delete_elem(map_fd, &key);
out:
	if (pp[0] >= 0)
		close(pp[0]);
	if (pp[1] >= 0)
		close(pp[1]);
	if (ep >= 0)
		close(ep);
	if (a >= 0)
		close(a);
	if (c >= 0)
		close(c);
	if (ls >= 0)
		close(ls);
	return broken;
}

/* Root sampling threshold for the kernel: as zs_sampler_decide(). */
static uint64_t sample_threshold(const struct zs_sampler *s)
{
	if (s->root == ZS_SAMPLER_ALWAYS_ON)
		return 1ULL << 53;
	if (s->root == ZS_SAMPLER_ALWAYS_OFF)
		return 0;
	return (uint64_t)(s->ratio * (double)(1ULL << 53));
}

/* Undoes attach_injector(), whatever part of it was done. */
static void detach_injector(struct zs_loader *l)
{
	if (l->msg_link_fd >= 0)
		close(l->msg_link_fd);
	if (l->skb_link_fd >= 0)
		close(l->skb_link_fd);
	if (l->msg_attached && l->inj)
		bpf_prog_detach2(bpf_program__fd(l->inj->progs.zs_inject),
				 bpf_map__fd(l->inj->maps.inject_socks), BPF_SK_MSG_VERDICT);
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	l->msg_link_fd = l->skb_link_fd = l->cgroup_fd = -1;
	l->msg_attached = 0;
	inject_stats_fd = -1;
	zs_metrics_set_inject_source(NULL);
	inject_bpf__destroy(l->inj);
	l->inj = NULL;
}

/*
 * Loads inject.bpf.c on top of the loaded sock.bpf.c (sharing the maps of
 * bpf/lib/maps.bpf.h and the scope maps) and attaches sockops at the cgroup
 * v2 root and sk_msg on the sockhash. Returns 0 or a negative errno, logged.
 */
static int attach_injector(struct zs_loader *l, const struct zs_config *cfg)
{
	struct inject_bpf *inj = inject_bpf__open();
	int ncpu = libbpf_num_possible_cpus(), err, prog_fd, map_fd, without, with;
	char w1[128], w2[128];
	struct bpf_link *link;

	if (!inj)
		return -errno;
	l->inj = inj;
	inj->rodata->agent_tgid = (uint32_t)getpid();
	inj->rodata->filter_pids = cfg->n_pids > 0;
	inj->rodata->filter_comms = cfg->n_exes > 0;
	inj->rodata->filter_ports = cfg->n_ports > 0;
	inj->rodata->sample_threshold = sample_threshold(&cfg->sampler);
	if (ncpu > 0) {
		bpf_map__set_max_entries(inj->maps.inj_scratch, (uint32_t)ncpu * ZS_INJ_SLOTS);
		bpf_map__set_max_entries(inj->maps.inj_slots, (uint32_t)ncpu);
	}
	/* tests only: the kernel refuses the injector, as 6.12 did (a failed
	 * CO-RE relocation) */
	if (getenv("ZEROSPAN_FAULT_INJECT_LOAD"))
		bpf_program__set_type(inj->progs.zs_inject, BPF_PROG_TYPE_SOCKET_FILTER);
	{
		/* maps of sock.bpf.c the injector reads or writes */
		struct bpf_map *shared[][2] = {
			{ inj->maps.events, l->skel->maps.events },
			{ inj->maps.conns, l->skel->maps.conns },
			{ inj->maps.thread_ctx, l->skel->maps.thread_ctx },
			{ inj->maps.thread_ts, l->skel->maps.thread_ts },
			{ inj->maps.sock_info, l->skel->maps.sock_info },
			{ inj->maps.scope_pids, l->skel->maps.scope_pids },
			{ inj->maps.scope_comms, l->skel->maps.scope_comms },
			{ inj->maps.scope_ports, l->skel->maps.scope_ports },
		};
		size_t i;

		for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
			err = bpf_map__reuse_fd(shared[i][0], bpf_map__fd(shared[i][1]));
			if (err) {
				log_warn("injection: share map %s: %s", bpf_map__name(shared[i][0]),
					 strerror(-err));
				return err;
			}
		}
	}
	err = inject_bpf__load(inj);
	if (err) {
		log_warn("injection: load: %s (run with -v for the verifier log)", strerror(-err));
		return err;
	}
	inject_stats_fd = bpf_map__fd(inj->maps.inject_stats);
	zs_metrics_set_inject_source(zs_loader_read_inject);
	l->cgroup_fd = open_cgroup2_root();
	if (l->cgroup_fd < 0) {
		log_warn("injection: no cgroup v2 hierarchy to attach sockops to");
		return -ENOENT;
	}
	link = bpf_program__attach_cgroup(inj->progs.zs_sockops, l->cgroup_fd);
	if (!link) {
		err = -errno;
		log_warn("injection: attach sockops: %s", strerror(-err));
		return err;
	}
	l->links[l->n_links++] = link;
	prog_fd = bpf_program__fd(inj->progs.zs_inject);
	map_fd = bpf_map__fd(inj->maps.inject_socks);
	/* A link when the kernel has sockmap links (6.10); else a plain attach,
	 * which goes away with the sockhash when the agent's fds close. */
	l->msg_link_fd = bpf_link_create(prog_fd, map_fd, BPF_SK_MSG_VERDICT, NULL);
	if (l->msg_link_fd < 0) {
		if (bpf_prog_attach(prog_fd, map_fd, BPF_SK_MSG_VERDICT, 0)) {
			err = -errno;
			log_warn("injection: attach sk_msg: %s", strerror(-err));
			return err;
		}
		l->msg_attached = 1;
	}
	/* Some kernels answer FIONREAD on a sockmap socket from the psock's
	 * queue only, or lose the wakeup of the data's arrival: with sk_msg
	 * alone, readers that trust FIONREAD (nginx) or wait in epoll (node,
	 * Go, asyncio) stall. A pass-all verdict program routes received data
	 * through that queue, which fixes both but hides it from splice(). */
	without = sockhash_reads_broken(map_fd);
	if (!without)
		return 0;
	l->skb_link_fd = bpf_link_create(bpf_program__fd(inj->progs.zs_pass_skb), map_fd,
					 BPF_SK_SKB_STREAM_VERDICT, NULL);
	with = l->skb_link_fd >= 0 ? sockhash_reads_broken(map_fd) : ZS_READS_UNTESTED;
	if (!with) {
		log_info("injection: reads kept right with a pass-all skb verdict program");
		return 0;
	}
	if (with == ZS_READS_SPLICE && cfg->inject == ZS_INJECT_FORCE) {
		log_warn("injection forced on: apps that read an outgoing plaintext HTTP "
			 "connection with splice() (Go's io.Copy between two TCP connections, "
			 "docker-proxy) get no data on this kernel");
		return 0;
	}
	log_warn("injection: a socket in a sockhash on this kernel: %s; with a verdict "
		 "program: %s. Injection stays off so that no app's reads break "
		 "(--inject=force keeps the verdict program: splice() readers lose out)",
		 reads_broken_str(without, w1, sizeof(w1)), reads_broken_str(with, w2, sizeof(w2)));
	return -ENOTSUP;
}

static int is_uprobe(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	return strncmp(sec, "uprobe", 6) == 0 || strncmp(sec, "uretprobe", 9) == 0;
}

/* The programs that only TLS tracing needs: uprobes, exec and exit hooks. */
static int is_tls_prog(const struct sock_bpf *skel, const struct bpf_program *prog)
{
	return is_uprobe(prog) || prog == skel->progs.zs_exec || prog == skel->progs.zs_thread_exit;
}

/* Hands the uprobe programs to tls.c, which attaches them to library files. */
static int start_tls(struct zs_loader *l, const struct zs_config *cfg)
{
	struct zs_tls_progs p = { .exit = l->skel->progs.zs_tls_exit };
	int err;

	p.entry[ZS_TLS_SYM_SSL_WRITE] = l->skel->progs.zs_ssl_write;
	p.entry[ZS_TLS_SYM_SSL_READ] = l->skel->progs.zs_ssl_read;
	p.entry[ZS_TLS_SYM_SSL_WRITE_EX] = l->skel->progs.zs_ssl_write_ex;
	p.entry[ZS_TLS_SYM_SSL_READ_EX] = l->skel->progs.zs_ssl_read_ex;
	p.entry[ZS_TLS_SYM_GNUTLS_SEND] = l->skel->progs.zs_gnutls_send;
	p.entry[ZS_TLS_SYM_GNUTLS_RECV] = l->skel->progs.zs_gnutls_recv;
	p.entry[ZS_TLS_SYM_GNUTLS_RECV_TAIL] = l->skel->progs.zs_gnutls_recv_tail;
	p.entry[ZS_TLS_SYM_DL_DEBUG_STATE] = l->skel->progs.zs_dlopen;
	p.entry[ZS_TLS_SYM_GO_ROUND_TRIP] = l->skel->progs.zs_go_round_trip;
	p.entry[ZS_TLS_SYM_GO_WRITE] = l->skel->progs.zs_go_write;
	err = zs_tls_init(&p, cfg, "/proc");
	if (err) {
		log_error("tls: %s", strerror(-err));
		return err;
	}
	zs_tls_scan_start();
	return 0;
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

/*
 * Opens the kernel side and sets what it is loaded with: the agent's
 * settings, whether the kernel decides trace contexts (contexts: only when
 * the injector is there to carry them), the TLS programs (tls: loaded and
 * used, or not loaded), how sends are timed. ZEROSPAN_FAULT_TLS_LOAD=1
 * (tests only) gives the TLS return program a type the kernel refuses, as a
 * kernel refusing the TLS programs would.
 */
static int sock_prepare(struct zs_loader *l, const struct zs_config *cfg, int contexts, int tls,
			uint64_t rb_bytes)
{
	struct bpf_program *prog;
	int ncpu;

	l->skel = sock_bpf__open();
	if (!l->skel) {
		int err = -errno;

		log_error("open BPF object: %s", strerror(-err));
		return err;
	}
	l->skel->rodata->agent_tgid = (uint32_t)getpid();
	l->skel->rodata->capture_size = cfg->capture_size;
	ncpu = libbpf_num_possible_cpus();
	l->skel->rodata->wakeup_bytes =
		rb_bytes / ZS_WAKEUP_SHARE / (uint64_t)(ncpu > 0 ? ncpu : 1);
	l->skel->rodata->filter_pids = cfg->n_pids > 0;
	l->skel->rodata->filter_comms = cfg->n_exes > 0;
	l->skel->rodata->filter_ports = cfg->n_ports > 0;
	l->skel->rodata->make_contexts = (uint8_t)contexts;
	l->skel->rodata->sample_threshold = sample_threshold(&cfg->sampler);
	l->skel->rodata->sample_ignore_parent = cfg->sampler.ignore_parent;
	l->skel->rodata->tls_hooks = tls;
	l->skel->rodata->go_hooks = tls;
	/* reads and writes are told apart by syscall number, this architecture's */
#define SET_OP(nr, op)                                                                     \
	do {                                                                               \
		_Static_assert((nr) < sizeof(((struct sock_bpf__rodata *)0)->syscall_ops), \
			       "syscall number beyond syscall_ops");                       \
		l->skel->rodata->syscall_ops[nr] = (op);                                   \
	} while (0)
	SET_OP(SYS_read, ZS_OP_READ);
	SET_OP(SYS_readv, ZS_OP_READV);
	SET_OP(SYS_recvfrom, ZS_OP_RECVFROM);
	SET_OP(SYS_recvmsg, ZS_OP_RECVMSG);
	SET_OP(SYS_write, ZS_OP_WRITE);
	SET_OP(SYS_writev, ZS_OP_WRITEV);
	SET_OP(SYS_sendto, ZS_OP_SENDTO);
	SET_OP(SYS_sendmsg, ZS_OP_SENDMSG);
	SET_OP(SYS_sendfile, ZS_OP_SENDFILE);
#undef SET_OP
	bpf_map__set_max_entries(l->skel->maps.events, (uint32_t)rb_bytes);
	if (ncpu > 0)
		bpf_map__set_max_entries(l->skel->maps.scratch, (uint32_t)ncpu);

	bpf_object__for_each_program(prog, l->skel->obj)
	{
		if (!tls && is_tls_prog(l->skel, prog))
			bpf_program__set_autoload(prog, false);
	}
	choose_io_hooks(l->skel, &l->io, cfg->send_time_syscalls);

	if (tls && getenv("ZEROSPAN_FAULT_TLS_LOAD"))
		bpf_program__set_type(l->skel->progs.zs_tls_exit, BPF_PROG_TYPE_SOCKET_FILTER);
	return 0;
}

/* The object l->skel held is dropped and opened again with the settings as
 * they are now (one of them changed after a refusal), and loaded. l->skel is
 * NULL when it could not be opened (logged). */
static int sock_reload(struct zs_loader *l, const struct zs_config *cfg, int contexts, int tls,
		       uint64_t rb_bytes)
{
	int err;

	sock_bpf__destroy(l->skel);
	l->skel = NULL;
	err = sock_prepare(l, cfg, contexts, tls, rb_bytes);
	return err ? err : sock_bpf__load(l->skel);
}

/*
 * Opens and loads the kernel side (sock_prepare's settings). A kernel may
 * refuse the fentry send timing (no BPF trampolines): loaded again without.
 * It may refuse the TLS programs alone (6.18.44 refused a uretprobe whose
 * call chain needed more stack than it gives uprobes): they are then left
 * out, *tls cleared and *tls_state saying why, and plaintext is still traced.
 * Returns 0 or a negative errno, logged.
 */
static int sock_load(struct zs_loader *l, const struct zs_config *cfg, int contexts, int *tls,
		     const char **tls_state, uint64_t rb_bytes)
{
	int err = sock_prepare(l, cfg, contexts, *tls, rb_bytes);

	if (err)
		return err;
	err = sock_bpf__load(l->skel);
	if (err && l->io.fentry_begin) {
		/* BPF trampolines not allowed (this project's CI host) */
		log_warn("load BPF programs with fentry send timing: %s; loading them without "
			 "(run with -v for the verifier log)",
			 strerror(-err));
		l->io.fentry_begin = 0;
		err = sock_reload(l, cfg, contexts, *tls, rb_bytes);
		if (!l->skel)
			return err;
	}
	if (err && *tls && err != -EPERM) {
		log_error(
			"load BPF programs with the TLS uprobes: %s (run with -v for the verifier "
			"log); loading them without: HTTPS is not traced",
			strerror(-err));
		*tls = 0;
		*tls_state = "refused by the kernel, HTTPS not traced";
		err = sock_reload(l, cfg, contexts, *tls, rb_bytes);
		if (!l->skel)
			return err;
	}
	if (err && l->io.fexit)
		log_error("load BPF programs: %s: this kernel has no sock:sock_send_length "
			  "tracepoints (Linux 6.3) and the fexit programs that stand in for them "
			  "need BPF trampolines (CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS, no "
			  "lockdown=confidentiality; run with -v for the verifier log)",
			  strerror(-err));
	else if (err)
		log_error("load BPF programs: %s%s", strerror(-err),
			  err == -EPERM ? " (run as root, or see docs/CAPABILITIES.md)"
					: " (run with -v for the verifier log)");
	return err;
}

struct zs_loader *zs_loader_open(const struct zs_config *cfg)
{
	struct zs_loader *l = calloc(1, sizeof(*l));
	struct btf *vmlinux = NULL;
	const char *inject = "off", *tls_state = cfg->tls ? "on" : "off";
	struct bpf_program *prog;
	int err, tls, contexts;
	uint64_t rb_bytes = (uint64_t)cfg->ringbuf_mb << 20;

	if (!l)
		return NULL;
	l->cgroup_fd = l->msg_link_fd = l->skb_link_fd = -1;
	libbpf_set_print(libbpf_log);
	if (geteuid() != 0)
		log_info(
			"not running as root: the capabilities of docs/CAPABILITIES.md are needed");
	if (faccessat(AT_FDCWD, "/sys/kernel/btf/vmlinux", R_OK, AT_EACCESS) != 0) {
		log_error("missing /sys/kernel/btf/vmlinux: this kernel has no BTF "
			  "(CONFIG_DEBUG_INFO_BTF=y is needed)");
		goto fail;
	}
	vmlinux = btf__load_vmlinux_btf();
	if (!btf_has_tracepoint(vmlinux, "sock_send_length") ||
	    !btf_has_tracepoint(vmlinux, "sock_recv_length")) {
		if (!btf_has_func(vmlinux, "inet_sendmsg") ||
		    !btf_has_func(vmlinux, "inet_recvmsg") ||
		    !btf_has_helper(vmlinux, "BPF_FUNC_loop")) {
			log_error("this kernel has neither the sock:sock_send_length/"
				  "sock_recv_length tracepoints (Linux 6.3) nor what stands in for "
				  "them, bpf_loop (5.17) and inet_sendmsg/inet_recvmsg in its BTF: "
				  "Linux 6.1 or later is needed");
			goto fail;
		}
		l->io.fexit = 1;
		l->io.inet6 = btf_has_func(vmlinux, "inet6_sendmsg") &&
			      btf_has_func(vmlinux, "inet6_recvmsg");
		l->io.sendpage = btf_has_func(vmlinux, "inet_sendpage");
		log_info("this kernel has no sock:sock_send_length/sock_recv_length tracepoints "
			 "(Linux 6.3): socket data seen at the return of inet_sendmsg/"
			 "inet_recvmsg%s (fexit)%s",
			 l->io.inet6 ? " and their IPv6 twins" : "",
			 l->io.sendpage ? ", sendfile at inet_sendpage's" : "");
		if (!l->io.inet6)
			log_warn("no inet6_sendmsg/inet6_recvmsg in this kernel's BTF (IPv6 a "
				 "module?): TCP over IPv6 is not traced");
	}
	if (!btf_has_tracepoint(vmlinux, "inet_sock_set_state")) {
		log_error("this kernel lacks the sock:inet_sock_set_state tracepoint");
		goto fail;
	}
	l->io.send_begin = btf_has_tracepoint(vmlinux, "tcp_sendmsg_locked");
	if (!l->io.fexit) {
		l->io.inet6 = btf_has_func(vmlinux, "inet6_sendmsg");
		l->io.fentry_begin = btf_has_func(vmlinux, "inet_sendmsg") &&
				     !cfg->send_time_syscalls &&
				     (!l->io.send_begin || cfg->send_time_fentry);
	}
	/* 5 MiB and more: not held while libbpf parses its own copies */
	btf__free(vmlinux);
	vmlinux = NULL;

	tls = cfg->tls;
	contexts = cfg->inject != ZS_INJECT_OFF;
	for (;;) {
		err = sock_load(l, cfg, contexts, &tls, &tls_state, rb_bytes);
		if (err)
			goto fail;
		err = fill_scope(l, cfg);
		if (err) {
			log_error("fill scope maps: %s", strerror(-err));
			goto fail;
		}
		if (!contexts)
			break;
		err = attach_injector(l, cfg);
		if (err == 0) {
			inject = cfg->inject == ZS_INJECT_FORCE ? "on (forced)" : "on";
			zs_gauge_set(injection_active, 1);
			break;
		}
		/* Nothing of it stays half attached; tracing goes on. The kernel
		 * programs are loaded again without trace contexts: with no
		 * injector to carry them, each would start its own trace (a
		 * server's request a new one), and the agent's same-host links
		 * by connection, as with --inject=off, would not be made. */
		inject = err == -ENOTSUP
				 ? "off on this kernel (above), traces stay within this host"
				 : "failed, traces stay within this host";
		while (l->n_links > 0)
			bpf_link__destroy(l->links[--l->n_links]);
		detach_injector(l);
		sock_bpf__destroy(l->skel);
		l->skel = NULL;
		contexts = 0;
	}
	drops_fd = bpf_map__fd(l->skel->maps.drops);
	zs_metrics_set_kernel_source(zs_loader_read_drops);
	let_go_fd = bpf_map__fd(l->skel->maps.let_go);
	zs_metrics_set_let_go_source(zs_loader_read_let_go);
	{
		void *rec;
		ring_buffer_sample_fn fn = zs_events_callback(&rec);

		l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.events), fn, rec, NULL);
	}
	if (!l->rb) {
		log_error("ring buffer: %s", strerror(errno));
		goto fail;
	}
	l->rb_size = rb_bytes;
	l->rb_pos = mmap(NULL, 2 * (size_t)page_size(), PROT_READ, MAP_SHARED,
			 bpf_map__fd(l->skel->maps.events), 0);
	if (l->rb_pos == MAP_FAILED) {
		log_error("ring buffer positions: %s", strerror(errno));
		l->rb_pos = NULL;
		goto fail;
	}
	bpf_object__for_each_program(prog, l->skel->obj)
	{
		struct bpf_link *link;

		/* uprobes go on library files, see tls.c */
		if (!bpf_program__autoload(prog) || is_uprobe(prog))
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
	/* before the TLS libraries are found and probed (a scan of every
	 * process: ~20 ms here, more with many processes): a request sent on a
	 * connection between the capture programs' attach and its enrolment
	 * goes without a traceparent */
	if (l->inj)
		zs_enrol_open(l->skel->obj, l->inj->obj, cfg);
	l->tls = tls;
	if (tls && start_tls(l, cfg))
		goto fail;
	log_info("attached %d programs (capture %u bytes, ringbuf %u MiB, traceparent injection "
		 "%s, TLS uprobes %s)",
		 l->n_links, cfg->capture_size, cfg->ringbuf_mb, inject, tls_state);
	return l;
fail:
	btf__free(vmlinux);
	zs_loader_close(l);
	return NULL;
}

/* The ring's unread bytes; *cons: the consumer's position. */
static unsigned long ring_unread(const struct zs_loader *l, unsigned long *cons)
{
	const unsigned long *c = l->rb_pos,
			    *p = (const unsigned long *)((const char *)l->rb_pos + page_size());

	*cons = __atomic_load_n(c, __ATOMIC_ACQUIRE);
	return __atomic_load_n(p, __ATOMIC_ACQUIRE) - *cons;
}

double zs_loader_backlog(void *arg)
{
	struct zs_loader *l = arg;
	unsigned long c,
		queued = ring_unread(l, &c),
		woken = l->rb_size / ZS_WAKEUP_SHARE; /* by then every CPU woke the agent */
	uint64_t now = zs_now_ns(CLOCK_MONOTONIC);

	/* Records waiting with the consumer still: starved, however few (the
	 * loop drains at least every ZS_DRAIN_MS when it runs). */
	if (c != l->rb_seen_cons || !queued || !l->rb_seen_ns) {
		l->rb_seen_cons = c;
		l->rb_seen_ns = now;
	} else if (now - l->rb_seen_ns >= ZS_YIELD_STARVED_NS) {
		return 1;
	}
	return queued <= woken ? 0 : (double)(queued - woken) / (double)(l->rb_size - woken);
}

double zs_loader_ring_fill(void *arg)
{
	const struct zs_loader *l = arg;
	unsigned long c;

	return (double)ring_unread(l, &c) / (double)l->rb_size;
}

struct ring_buffer *zs_loader_ringbuf(struct zs_loader *l)
{
	return l->rb;
}

int zs_loader_tls(const struct zs_loader *l)
{
	return l->tls;
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
	zs_tls_fini();
	for (i = 0; i < l->n_links; i++)
		bpf_link__destroy(l->links[i]);
	detach_injector(l);
	ring_buffer__free(l->rb);
	if (l->rb_pos)
		munmap(l->rb_pos, 2 * (size_t)page_size());
	zs_metrics_set_kernel_source(NULL);
	zs_metrics_set_let_go_source(NULL);
	drops_fd = let_go_fd = -1;
	sock_bpf__destroy(l->skel);
	free(l);
}
