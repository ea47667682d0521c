// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the ELF inspection of the TLS uprobes. The files it
 * reads come from any process on the host (a container's image, say), so
 * a malformed or hostile ELF must give an error or a result, never a crash.
 * The input is written to a memfd and inspected through /proc/self/fd.
 */
#include "elfsym.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64], err[256];
	struct zs_elf_tls t;

	if (fd < 0)
		fd = memfd_create("zs-fuzz-elf", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (zs_elf_tls_inspect(path, 1, &t, err, sizeof(err)) == 0 && t.n_found > ZS_TLS_SYM__COUNT)
		__builtin_trap();
	return 0;
}
