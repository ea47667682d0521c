// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "elfsym.h"

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
		if (!name || (name[0] != 'S' && name[0] != 'g'))
			continue;
		for (k = 0; k < ZS_TLS_SYM__COUNT; k++) {
			if (out->off[k] || strcmp(name, zs_tls_sym_names[k]) != 0)
				continue;
			out->off[k] = vaddr_to_offset(elf, sym.st_value);
			if (out->off[k])
				out->n_found++;
		}
	}
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
