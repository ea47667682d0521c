// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "elfsym.h"

#include "gopclntab.h"
#include "probe_site.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *const zs_tls_sym_names[ZS_TLS_SYM__COUNT] = {
#define ZS_X(id, name) name,
	ZS_TLS_SYMS(ZS_X)
#undef ZS_X
};

/* File offset of virtual address addr: through the executable PT_LOAD
 * segment that holds it (uprobes take file offsets). 0 if none. */
static uint64_t vaddr_to_offset(Elf *elf, uint64_t addr)
{
	size_t n, i;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return 0;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (addr >= ph.p_vaddr && addr < ph.p_vaddr + ph.p_memsz)
			return addr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

static void scan_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct zs_elf_tls *out)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n, i;
	int k;

	if (!data || !sh->sh_entsize)
		return;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(data, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || (name[0] != 'S' && name[0] != 'g' && name[0] != '_' && name[0] != 'n'))
			continue;
		for (k = 0; k < ZS_TLS_SYM__COUNT; k++) {
			if (out->off[k] || strcmp(name, zs_tls_sym_names[k]) != 0)
				continue;
			out->off[k] = vaddr_to_offset(elf, sym.st_value);
			out->size[k] = sym.st_size;
			/* gnutls_record_send2 only tells where send's probe may go */
			if (out->off[k] && k != ZS_TLS_SYM_GNUTLS_SEND2 && !zs_tls_sym_is_go(k))
				out->n_found++;
		}
	}
}

/* A Go program's net/http functions from Go's own table (.gopclntab) when
 * the symbol table did not have them (a stripped binary). */
static void go_from_pclntab(Elf *elf, Elf_Scn *pcln, struct zs_elf_tls *out)
{
	const int ks[2] = { ZS_TLS_SYM_GO_ROUND_TRIP, ZS_TLS_SYM_GO_WRITE };
	const char *names[2] = { zs_tls_sym_names[ks[0]], zs_tls_sym_names[ks[1]] };
	uint64_t addr[2], size[2];
	Elf_Data *data = elf_getdata(pcln, NULL);
	int i;

	if (!data || !data->d_buf ||
	    zs_gopclntab_find(data->d_buf, data->d_size, names, 2, addr, size) != 2)
		return;
	for (i = 0; i < 2; i++) {
		out->off[ks[i]] = vaddr_to_offset(elf, addr[i]);
		out->size[ks[i]] = size[i];
	}
}

/* The executable PT_LOAD segment whose file bytes hold offset off: 1 and
 * *ph, else 0. */
static int exec_segment_of(Elf *elf, uint64_t off, GElf_Phdr *ph)
{
	size_t n, i;

	if (elf_getphdrnum(elf, &n))
		return 0;
	for (i = 0; i < n; i++)
		if (gelf_getphdr(elf, (int)i, ph) && ph->p_type == PT_LOAD &&
		    (ph->p_flags & PF_X) && off >= ph->p_offset &&
		    off < ph->p_offset + ph->p_filesz)
			return 1;
	return 0;
}

/* 1 when off is inside an executable segment's file bytes. */
static int offset_is_code(Elf *elf, uint64_t off)
{
	GElf_Phdr ph;

	return exec_segment_of(elf, off, &ph);
}

/* Up to ZS_SITE_SCAN bytes of code at off, no further than size (a
 * function's end: a call found past it would be another function's). */
static size_t read_code(int fd, uint64_t off, uint64_t size, uint8_t *buf)
{
	size_t want = size && size < ZS_SITE_SCAN ? (size_t)size : ZS_SITE_SCAN;
	ssize_t n = pread(fd, buf, want, (off_t)off);

	return n > 0 ? (size_t)n : 0;
}

/* Where the probe of the function at off (size bytes, 0: unknown) goes when
 * the instruction there, past an endbr64, is one the kernel emulates; else
 * 0. */
static uint64_t emulated_site(int fd, uint64_t off, uint64_t size)
{
	uint8_t code[ZS_SITE_SCAN];
	uint64_t site;
	int e;

	site = zs_site_entry(off, code, read_code(fd, off, size, code), &e);
	return e ? site : 0;
}

/*
 * SSL_read (k_int) and SSL_read_ex (k_ex) are both wrappers of the
 * library's internal read (OpenSSL 1.1.1 and 3.x: ssl_read_internal, which
 * takes and returns what SSL_read_ex does); the same for the writes. When
 * either public entry is single-stepped and the internal one starts with an
 * emulated push, one probe there covers both calls. Recognised only in the
 * shape that proves it: SSL_read_ex passes its arguments straight on (a thin
 * wrapper) to a function SSL_read calls as well.
 */
static void move_to_internal(Elf *elf, int fd, struct zs_elf_tls *out, int k_int, int k_ex)
{
	uint8_t a[ZS_SITE_SCAN], b[ZS_SITE_SCAN];
	uint64_t target, site;
	size_t na, nb;
	int ea, eb;

	if (!out->off[k_int] || !out->off[k_ex])
		return;
	na = read_code(fd, out->off[k_int], out->size[k_int], a);
	nb = read_code(fd, out->off[k_ex], out->size[k_ex], b);
	zs_site_entry(out->off[k_int], a, na, &ea);
	zs_site_entry(out->off[k_ex], b, nb, &eb);
	if (ea && eb)
		return;
	target = zs_site_forward(out->off[k_ex], b, nb);
	if (!target || !offset_is_code(elf, target) ||
	    !zs_site_calls(out->off[k_int], a, na, target))
		return;
	site = emulated_site(fd, target, 0);
	if (!site)
		return;
	out->probe[k_ex] = site;
	out->probe[k_int] = 0;
	out->n_moved++;
}

/* Virtual address of file offset off in the executable PT_LOAD segment
 * (vaddr_to_offset's inverse); 0 if none. */
static uint64_t offset_to_vaddr(Elf *elf, uint64_t off)
{
	GElf_Phdr ph;

	return exec_segment_of(elf, off, &ph) ? off - ph.p_offset + ph.p_vaddr : 0;
}

/* 1 when the GOT slot at vaddr slot is filled for the symbol name (its
 * R_X86_64_JUMP_SLOT relocation). */
static int jump_slot_is(Elf *elf, uint64_t slot, const char *name)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh, symsh;

	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		Elf_Data *data, *syms;
		Elf_Scn *symscn;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		symscn = elf_getscn(elf, sh.sh_link);
		if (!data || !symscn || !gelf_getshdr(symscn, &symsh) ||
		    !(syms = elf_getdata(symscn, NULL)))
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			const char *s;

			if (!gelf_getrela(data, (int)i, &r) || r.r_offset != slot ||
			    GELF_R_TYPE(r.r_info) != R_X86_64_JUMP_SLOT)
				continue;
			if (!gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &sym))
				return 0;
			s = elf_strptr(elf, symsh.sh_link, sym.st_name);
			return s && strcmp(s, name) == 0;
		}
	}
	return 0;
}

/*
 * GnuTLS's gnutls_record_send(s, data, n) is gnutls_record_send2(s, data, n,
 * 0, 0): two xors (single-stepped) and a jump through the PLT. When its code
 * has that shape, the jump lands on gnutls_record_send2 (directly or through
 * the PLT slot filled for that symbol) and send2 starts with an emulated
 * push, send's probe goes there: one probe covers both calls, without the
 * single step.
 */
static void move_gnutls_send(Elf *elf, int fd, struct zs_elf_tls *out)
{
	const int k = ZS_TLS_SYM_GNUTLS_SEND, k2 = ZS_TLS_SYM_GNUTLS_SEND2;
	uint8_t a[ZS_SITE_SCAN], b[ZS_SITE_SCAN];
	uint64_t target, slot, site;
	size_t na, nb;
	int ea;

	if (!out->off[k] || !out->off[k2])
		return;
	na = read_code(fd, out->off[k], out->size[k], a);
	zs_site_entry(out->off[k], a, na, &ea);
	target = zs_site_tail_call(out->off[k], a, na);
	if (ea || !target || !offset_is_code(elf, target))
		return;
	if (target != out->off[k2]) {
		nb = read_code(fd, target, 16, b);
		slot = zs_site_plt_slot(offset_to_vaddr(elf, target), b, nb);
		if (!slot || !jump_slot_is(elf, slot, zs_tls_sym_names[k2]))
			return;
	}
	site = emulated_site(fd, out->off[k2], out->size[k2]);
	if (!site)
		return;
	out->probe[k] = site;
	out->n_moved++;
}

/* gnutls_record_recv's probe on its tail jump (zs_site_recv_tail), when the
 * jump lands in code. */
static void move_gnutls_recv(Elf *elf, int fd, struct zs_elf_tls *out)
{
	const int k = ZS_TLS_SYM_GNUTLS_RECV;
	uint8_t code[ZS_SITE_SCAN];
	uint64_t site;
	size_t n;
	int e;

	if (!out->off[k])
		return;
	n = read_code(fd, out->off[k], out->size[k], code);
	zs_site_entry(out->off[k], code, n, &e);
	site = zs_site_recv_tail(out->off[k], code, n);
	if (e || !site ||
	    !offset_is_code(elf, zs_site_forward(site, code + (site - out->off[k]), 5)))
		return;
	out->probe[ZS_TLS_SYM_GNUTLS_RECV_TAIL] = site;
	out->probe[k] = 0;
	out->n_moved++;
}

/* A Go program's net/http functions: probed past their stack check, both
 * or neither (x86-64 only: the shape proves the register ABI, Go 1.17+). */
static void place_go(int fd, struct zs_elf_tls *out)
{
	const int a = ZS_TLS_SYM_GO_ROUND_TRIP, b = ZS_TLS_SYM_GO_WRITE;
	uint8_t code[ZS_SITE_SCAN];

	out->probe[a] = out->off[a]
				? zs_site_go_entry(out->off[a], code,
						   read_code(fd, out->off[a], out->size[a], code))
				: 0;
	out->probe[b] = out->off[b]
				? zs_site_go_entry(out->off[b], code,
						   read_code(fd, out->off[b], out->size[b], code))
				: 0;
	out->go_http = out->probe[a] && out->probe[b];
	if (!out->go_http)
		out->probe[a] = out->probe[b] = 0;
}

/* Fills out->probe from out->off. */
static void place_probes(Elf *elf, int fd, struct zs_elf_tls *out)
{
	uint8_t code[ZS_SITE_SCAN];
	GElf_Ehdr eh;
	int k, emulated;

	memcpy(out->probe, out->off, sizeof(out->probe));
	out->probe[ZS_TLS_SYM_GNUTLS_SEND2] = 0; /* looked up, not probed itself */
	out->probe[ZS_TLS_SYM_GO_ROUND_TRIP] = out->probe[ZS_TLS_SYM_GO_WRITE] = 0;
	if (!gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64)
		return;
	place_go(fd, out);
	for (k = 0; k < ZS_TLS_SYM__COUNT; k++)
		if (out->probe[k] && !zs_tls_sym_is_go(k))
			out->probe[k] = zs_site_entry(
				out->off[k], code, read_code(fd, out->off[k], out->size[k], code),
				&emulated);
	move_to_internal(elf, fd, out, ZS_TLS_SYM_SSL_READ, ZS_TLS_SYM_SSL_READ_EX);
	move_to_internal(elf, fd, out, ZS_TLS_SYM_SSL_WRITE, ZS_TLS_SYM_SSL_WRITE_EX);
	move_gnutls_send(elf, fd, out);
	move_gnutls_recv(elf, fd, out);
}

/* 1 when the section's bytes contain needle. */
static int section_has(Elf_Scn *scn, const char *needle)
{
	Elf_Data *data = NULL;
	size_t nl = strlen(needle);

	while ((data = elf_getdata(scn, data)) != NULL)
		if (data->d_buf && data->d_size >= nl &&
		    memmem(data->d_buf, data->d_size, needle, nl))
			return 1;
	return 0;
}

int zs_elf_tls_inspect(const char *path, int look_blind, struct zs_elf_tls *out, char *err,
		       size_t errlen)
{
	Elf_Scn *scn = NULL, *rodata = NULL, *pcln = NULL;
	int fd, is_go = 0, rc = -1;
	size_t shstrndx;
	Elf *elf = NULL;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx)) {
		snprintf(err, errlen, "%s: not an ELF file", path);
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB)
			scan_symtab(elf, scn, &sh, out);
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (strcmp(name, ".go.buildinfo") == 0 || strcmp(name, ".note.go.buildid") == 0)
			is_go = 1;
		else if (strcmp(name, ".rodata") == 0)
			rodata = scn;
		else if (strcmp(name, ".gopclntab") == 0)
			pcln = scn;
	}
	if (is_go && pcln && !out->off[ZS_TLS_SYM_GO_ROUND_TRIP])
		go_from_pclntab(elf, pcln, out);
	if (out->n_found || out->off[ZS_TLS_SYM_GO_ROUND_TRIP])
		place_probes(elf, fd, out);
	/* Go names its functions in .gopclntab (package paths also in .rodata);
	 * BoringSSL's version string says its name, and its error strings read
	 * "...:OPENSSL_internal:..." (the name alone is in this agent's rodata). */
	if (look_blind && out->n_found == 0) {
		if (is_go && ((pcln && section_has(pcln, "crypto/tls.")) ||
			      (rodata && section_has(rodata, "crypto/tls"))))
			out->blind = ZS_TLS_BLIND_GO;
		else if (!is_go && rodata && section_has(rodata, "BoringSSL") &&
			 section_has(rodata, "OPENSSL_internal"))
			out->blind = ZS_TLS_BLIND_BORINGSSL;
	}
	rc = 0;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}
