// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "tls.h"

#include "log.h"
#include "metrics.h"
#include "procfs.h"

#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 1024
#define MAX_PROCS 65536
#define FILES_PER_PROC 8
#define MAX_SCANS 4096
#define LINKS_PER_FILE (2 * ZS_TLS_SYM__COUNT)
/* After an exec: once the dynamic loader has mapped the libraries, and once
 * more for libraries loaded with dlopen during start-up (python's ssl). */
#define SCAN_SOON_NS 150000000ULL
#define SCAN_LATER_NS 2000000000ULL
#define REAP_EVERY_NS 2000000000ULL

enum file_state {
	FILE_PLAIN,    /* no TLS functions: nothing to do */
	FILE_ATTACHED, /* uprobes on it */
	FILE_IDLE,     /* has TLS functions, no user left: detached */
	FILE_BLIND,    /* TLS we cannot see (Go, BoringSSL without symbols) */
	FILE_FAILED,   /* could not be read or attached */
};

struct tls_file {
	uint64_t dev, ino;
	enum file_state state;
	int users; /* processes mapping it */
	int base;  /* a host library: stays attached without users */
	struct zs_elf_tls syms;
	struct bpf_link *links[LINKS_PER_FILE];
	int n_links;
	char path[PATH_MAX]; /* as the agent opens it */
};

struct tls_proc {
	uint32_t pid;
	uint64_t start; /* start time in ticks: tells pid reuse apart */
	uint16_t files[FILES_PER_PROC];
	uint8_t n;
};

struct tls_scan {
	uint32_t pid;
	uint64_t due;
};

static struct zs_tls_progs progs;
static const struct zs_config *cfg;
static char proc_root[PATH_MAX] = "/proc";
static struct tls_file *files;
static int n_files;
static struct tls_proc *procs;
static int n_procs;
static struct tls_scan scans[MAX_SCANS];
static int n_scans;
static uint64_t last_reap;
static int ready;

/* A dynamic loader (its dlopen hook), not a TLS library. */
static int is_loader(const struct tls_file *f)
{
	return f->syms.off[ZS_TLS_SYM_DL_DEBUG_STATE] != 0;
}

static void gauge_update(void)
{
	uint64_t n = 0, go = 0;
	int i;

	for (i = 0; i < n_files; i++) {
		n += files[i].state == FILE_ATTACHED && !is_loader(&files[i]) &&
		     files[i].syms.n_found;
		go += files[i].state == FILE_ATTACHED && files[i].syms.go_http;
	}
	zs_gauge_set(tls_libraries, n);
	zs_gauge_set(go_programs, go);
}

static void detach(struct tls_file *f)
{
	while (f->n_links > 0)
		bpf_link__destroy(f->links[--f->n_links]);
}

static int attach(struct tls_file *f)
{
	struct bpf_uprobe_opts entry_opts = { .sz = sizeof(entry_opts), .retprobe = false };
	struct bpf_uprobe_opts exit_opts = { .sz = sizeof(exit_opts), .retprobe = true };
	int k;

	for (k = 0; k < ZS_TLS_SYM__COUNT; k++) {
		struct bpf_link *a, *b;
		uint64_t off = f->syms.probe[k];

		if (!off || !progs.entry[k])
			continue;
		a = bpf_program__attach_uprobe_opts(progs.entry[k], -1, f->path, off, &entry_opts);
		if (!a)
			goto fail;
		f->links[f->n_links++] = a;
		if (k == ZS_TLS_SYM_DL_DEBUG_STATE || zs_tls_sym_is_go(k))
			continue; /* a hook; Go's stacks move (no return probe) */
		b = bpf_program__attach_uprobe_opts(progs.exit, -1, f->path, off, &exit_opts);
		if (!b)
			goto fail;
		f->links[f->n_links++] = b;
	}
	f->state = FILE_ATTACHED;
	zs_count(tls_attaches);
	if (f->syms.go_http)
		log_info("go: attached to %s (net/http: calls followed from handler to writer "
			 "goroutine)",
			 f->path);
	if (is_loader(f))
		log_info("tls: attached to %s (its dlopen hook)", f->path);
	else if (f->syms.n_moved)
		log_info("tls: attached to %s (%d functions, %d probes moved to the function "
			 "they lead to)",
			 f->path, f->syms.n_found, f->syms.n_moved);
	else if (f->syms.n_found)
		log_info("tls: attached to %s (%d functions)", f->path, f->syms.n_found);
	gauge_update();
	return 0;
fail:
	log_warn("tls: attach %s at %s: %s", zs_tls_sym_names[k], f->path, strerror(errno));
	detach(f);
	f->state = FILE_FAILED;
	zs_count(tls_attach_failed);
	return -1;
}

static struct tls_file *file_find(uint64_t dev, uint64_t ino)
{
	int i;

	for (i = 0; i < n_files; i++)
		if (files[i].dev == dev && files[i].ino == ino)
			return &files[i];
	return NULL;
}

/* A free slot: a new one, or one whose file needs nothing from us. */
static struct tls_file *file_slot(void)
{
	int i;

	if (n_files < MAX_FILES)
		return &files[n_files++];
	for (i = 0; i < n_files; i++)
		if (files[i].state == FILE_PLAIN || (files[i].state == FILE_IDLE && !files[i].base))
			return &files[i];
	return NULL;
}

/*
 * The entry for a file (dev, ino) at path, inspected the first time it is
 * seen. exe: a program, also searched for TLS code we cannot see; who: the
 * process it was found in, for the log. NULL if the table is full.
 */
static struct tls_file *file_get(uint64_t dev, uint64_t ino, const char *path, int exe,
				 uint32_t who)
{
	struct tls_file *f = file_find(dev, ino);
	char err[256];

	if (f)
		return f;
	f = file_slot();
	if (!f) {
		zs_count(tls_files_untracked);
		return NULL;
	}
	memset(f, 0, sizeof(*f));
	f->dev = dev;
	f->ino = ino;
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (zs_elf_tls_inspect(path, exe, &f->syms, err, sizeof(err))) {
		log_debug("tls: %s", err);
		f->state = FILE_PLAIN;
		return f;
	}
	if (f->syms.blind != ZS_TLS_BLIND_NONE) {
		zs_count(tls_blind_binaries);
		log_warn("tls: %s (pid %u) uses %s: its HTTPS is not traced", path, who,
			 f->syms.blind == ZS_TLS_BLIND_GO ? "Go's crypto/tls"
							  : "BoringSSL without symbols");
	}
	if (f->syms.n_found || f->syms.go_http)
		f->state = FILE_IDLE; /* a Go program's net/http is attached as well */
	else if (f->syms.blind != ZS_TLS_BLIND_NONE)
		f->state = FILE_BLIND;
	else
		f->state = FILE_PLAIN;
	return f;
}

/* A process started using f. */
static void file_use(struct tls_file *f)
{
	f->users++;
	if (f->state == FILE_IDLE)
		attach(f);
}

static void file_unuse(struct tls_file *f)
{
	if (f->users > 0)
		f->users--;
	if (f->users == 0 && !f->base && f->state == FILE_ATTACHED) {
		detach(f);
		f->state = FILE_IDLE;
		log_info("tls: detached from %s (no process uses it)", f->path);
		gauge_update();
	}
}

/* A TLS library, or a dynamic loader (glibc's ld-linux*, musl's ld-musl*),
 * whose _dl_debug_state says when dlopen brings one in. */
static int is_tls_lib_name(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return strncmp(b, "libssl.so", 9) == 0 || strncmp(b, "libgnutls.so", 12) == 0 ||
	       strncmp(b, "ld-linux", 8) == 0 || strncmp(b, "ld-musl", 7) == 0;
}

/* Start time of pid (field 22 of stat), 0 if gone. */
static uint64_t proc_start(uint32_t pid)
{
	char path[PATH_MAX], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p)
		return 0;
	/* after ") ": field 3 (state) ... field 22 (starttime) */
	for (i = 3; i <= 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%llu", &start);
	return start;
}

static struct tls_proc *proc_find(uint32_t pid)
{
	int i;

	for (i = 0; i < n_procs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

static void proc_release(struct tls_proc *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		file_unuse(&files[p->files[i]]);
	*p = procs[--n_procs];
}

/* Looks at the executable mappings of pid and takes up the TLS files. */
static void scan_pid(uint32_t pid)
{
	char path[PATH_MAX], exe[PATH_MAX], line[PATH_MAX + 128], file[PATH_MAX];
	uint64_t start = proc_start(pid);
	struct tls_proc *p;
	ssize_t n;
	FILE *m;

	if (!start || !zs_proc_in_scope(cfg, proc_root, pid))
		return;
	p = proc_find(pid);
	if (p && p->start != start) {
		proc_release(p); /* pid reused */
		p = NULL;
	}
	snprintf(path, sizeof(path), "%s/%u/exe", proc_root, pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	snprintf(path, sizeof(path), "%s/%u/maps", proc_root, pid);
	m = fopen(path, "re");
	if (!m)
		return;
	zs_count(tls_scans);
	while (fgets(line, sizeof(line), m)) {
		char perms[8];
		unsigned long long ino;
		struct tls_file *f;
		struct stat st;
		int off = 0, i, idx;

		if (sscanf(line, "%*s %7s %*s %*x:%*x %llu %n", perms, &ino, &off) < 2 || !off ||
		    perms[2] != 'x' || ino == 0)
			continue;
		snprintf(file, sizeof(file), "%s", line + off);
		file[strcspn(file, "\n")] = 0;
		if (file[0] != '/' || strstr(file, " (deleted)"))
			continue;
		if (!is_tls_lib_name(file) && strcmp(file, exe) != 0)
			continue;
		/* Through the process's root: containers have their own files.
		 * Identity from stat(), as for the host's libraries (the device
		 * in maps can differ from st_dev on overlay or btrfs). */
		snprintf(path, sizeof(path), "%s/%u/root%s", proc_root, pid, file);
		if (stat(path, &st) || st.st_ino != ino)
			continue;
		f = file_get(st.st_dev, st.st_ino, path, strcmp(file, exe) == 0, pid);
		if (!f || (f->state != FILE_ATTACHED && f->state != FILE_IDLE))
			continue;
		idx = (int)(f - files);
		if (!p) {
			if (n_procs >= MAX_PROCS) {
				zs_count(tls_procs_untracked);
				break;
			}
			p = &procs[n_procs++];
			memset(p, 0, sizeof(*p));
			p->pid = pid;
			p->start = start;
		}
		for (i = 0; i < p->n && p->files[i] != idx; i++)
			;
		if (i < p->n || p->n >= FILES_PER_PROC)
			continue;
		p->files[p->n++] = (uint16_t)idx;
		file_use(f);
	}
	fclose(m);
}

/* The host's own TLS libraries, attached for good: programs that load them
 * later with dlopen are covered from their first call. root "" is the
 * agent's own file system; "<proc>/1/root" the host's when the agent runs in
 * a container with the host's pid namespace. There symlinks (absolute ones
 * would resolve in the agent's view) are skipped: the versioned files they
 * point to are regular files in the same directories. */
static void scan_libs(const char *root)
{
	static const char *const dirs[] = { "/lib/x86_64-linux-gnu",
					    "/usr/lib/x86_64-linux-gnu",
					    "/lib/aarch64-linux-gnu",
					    "/usr/lib/aarch64-linux-gnu",
					    "/lib64",
					    "/usr/lib64",
					    "/usr/lib",
					    "/usr/local/lib" };
	size_t d;

	for (d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		char dpath[PATH_MAX];
		DIR *dir;
		struct dirent *e;

		snprintf(dpath, sizeof(dpath), "%s%s", root, dirs[d]);
		dir = opendir(dpath);
		while (dir && (e = readdir(dir)) != NULL) {
			char path[PATH_MAX], real[PATH_MAX];
			struct tls_file *f;
			struct stat st;

			if (!is_tls_lib_name(e->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dpath, e->d_name);
			if (*root) {
				if (lstat(path, &st) || !S_ISREG(st.st_mode))
					continue;
			} else {
				if (stat(path, &st) || !S_ISREG(st.st_mode) ||
				    !realpath(path, real))
					continue;
				memcpy(path, real, sizeof(path));
			}
			f = file_get(st.st_dev, st.st_ino, path, 0, 0);
			if (!f || f->base || (f->state != FILE_IDLE && f->state != FILE_ATTACHED))
				continue;
			f->base = 1;
			if (f->state == FILE_IDLE)
				attach(f);
		}
		if (dir)
			closedir(dir);
	}
}

static void scan_host_libs(void)
{
	char host_root[PATH_MAX];
	struct stat self, host;
	int pid, found = 0;

	scan_libs("");
	/* The host's root as init sees it; kthreadd (pid 2) shares it, and is
	 * readable where an init with more capabilities than ours is not. */
	for (pid = 1; pid <= 2 && !found; pid++) {
		snprintf(host_root, sizeof(host_root), "%s/%d/root", proc_root, pid);
		found = stat(host_root, &host) == 0;
	}
	if (found && stat("/", &self) == 0 &&
	    (self.st_dev != host.st_dev || self.st_ino != host.st_ino)) {
		log_info("tls: in a container: also attaching the host's TLS libraries (%s)",
			 host_root);
		scan_libs(host_root);
	}
}

int zs_tls_init(const struct zs_tls_progs *p, const struct zs_config *c, const char *root)
{
	progs = *p;
	cfg = c;
	if (root)
		snprintf(proc_root, sizeof(proc_root), "%s", root);
	files = calloc(MAX_FILES, sizeof(*files));
	procs = calloc(MAX_PROCS, sizeof(*procs));
	if (!files || !procs) {
		zs_tls_fini();
		return -ENOMEM;
	}
	ready = 1;
	return 0;
}

static int scan_each(uint32_t pid, void *arg)
{
	(void)arg;
	scan_pid(pid);
	return 0;
}

void zs_tls_scan_start(void)
{
	if (!ready)
		return;
	scan_host_libs();
	zs_proc_each(proc_root, scan_each, NULL);
	gauge_update();
}

static void queue_scan(uint32_t pid, uint64_t due)
{
	if (n_scans >= MAX_SCANS) {
		zs_count(tls_scans_dropped);
		return;
	}
	scans[n_scans].pid = pid;
	scans[n_scans].due = due;
	n_scans++;
}

void zs_tls_on_exec(uint32_t pid, uint64_t now)
{
	struct tls_proc *p;

	if (!ready)
		return;
	/* The old program's libraries are gone with it. */
	p = proc_find(pid);
	if (p)
		proc_release(p);
	/* now: the program itself is mapped (statically linked TLS, Go), also
	 * if it exits quickly; soon: its shared libraries; later: dlopen */
	queue_scan(pid, now);
	queue_scan(pid, now + SCAN_SOON_NS);
	queue_scan(pid, now + SCAN_LATER_NS);
}

void zs_tls_on_dlopen(uint32_t pid, uint64_t now)
{
	int i;

	if (!ready)
		return;
	/* twice per dlopen (before and after the loader maps): one scan not
	 * yet run covers both */
	for (i = 0; i < n_scans; i++)
		if (scans[i].pid == pid && scans[i].due <= now)
			return;
	queue_scan(pid, now);
}

void zs_tls_tick(uint64_t now)
{
	int i;

	if (!ready)
		return;
	for (i = 0; i < n_scans;) {
		if (scans[i].due > now) {
			i++;
			continue;
		}
		scan_pid(scans[i].pid);
		scans[i] = scans[--n_scans];
	}
	if (now - last_reap < REAP_EVERY_NS)
		return;
	last_reap = now;
	for (i = 0; i < n_procs;) {
		if (proc_start(procs[i].pid) == procs[i].start)
			i++;
		else
			proc_release(&procs[i]); /* moves the last one to i */
	}
}

uint64_t zs_tls_next_due(void)
{
	uint64_t due = UINT64_MAX;
	int i;

	for (i = 0; i < n_scans; i++)
		if (scans[i].due < due)
			due = scans[i].due;
	return due;
}

void zs_tls_fini(void)
{
	int i;

	for (i = 0; files && i < n_files; i++)
		detach(&files[i]);
	free(files);
	free(procs);
	files = NULL;
	procs = NULL;
	n_files = n_procs = n_scans = 0;
	ready = 0;
	zs_gauge_set(tls_libraries, 0);
	zs_gauge_set(go_programs, 0);
}
