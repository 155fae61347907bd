/* SPDX-License-Identifier: Apache-2.0 */
#include "tls-elf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *const mp_tls_function_names[MP_TLS_NFUNCS] = {
	"SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex", "SSL_do_handshake",
};

/* A function only BoringSSL has (GREASE, RFC 8701, is not in OpenSSL's API). */
static const char boringssl_marker[] = "SSL_CTX_set_grease_enabled";

/* File offset of virtual address `addr`: through the executable PT_LOAD segment holding it. */
static uint64_t file_offset(Elf *elf, size_t nphdr, uint64_t addr)
{
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (addr >= ph.p_vaddr && addr < ph.p_vaddr + ph.p_filesz)
			return addr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

static void scan_symbols(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, size_t nphdr,
			 struct mp_tls_symbols *out)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n;

	if (!data || !sh->sh_entsize)
		return;
	n = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		/* Every name we want starts with "SSL_": one compare rejects nearly all. */
		if (!name || name[0] != 'S' || name[1] != 'S' || name[2] != 'L' || name[3] != '_')
			continue;
		if (!strcmp(name, boringssl_marker)) {
			out->boringssl = true;
			continue;
		}
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		for (int f = 0; f < MP_TLS_NFUNCS; f++) {
			uint64_t off;

			if ((out->found & (1u << f)) || strcmp(name, mp_tls_function_names[f]))
				continue;
			off = file_offset(elf, nphdr, sym.st_value);
			if (off) {
				out->offset[f] = off;
				out->found |= 1u << f;
			}
			break;
		}
	}
}

int mp_tls_inspect_elf(const char *path, struct mp_tls_symbols *out)
{
	size_t nphdr = 0;
	Elf_Scn *scn;
	Elf *elf;
	int fd, err = 0;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nphdr))
		goto out; /* not ELF: no OpenSSL */
	/* .dynsym first: what a library exports. .symtab only if that was not enough (an
	 * executable with OpenSSL linked in and not exported, but not stripped either). */
	for (int pass = 0; pass < 2 && !mp_tls_is_openssl(out); pass++) {
		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;

			if (!gelf_getshdr(scn, &sh))
				continue;
			if (sh.sh_type == (pass == 0 ? SHT_DYNSYM : SHT_SYMTAB))
				scan_symbols(elf, scn, &sh, nphdr, out);
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

/* Where distributions keep libssl, and one level of subdirectories (Debian's multiarch
 * /usr/lib/x86_64-linux-gnu). /lib and /usr/lib are often one directory: callers deduplicate by
 * inode. */
static const char *const system_lib_dirs[] = {"/usr/lib", "/usr/lib64", "/usr/local/lib", "/lib",
					      "/lib64"};

static void each_libssl_in(const char *dir, int depth,
			   void (*fn)(void *ctx, const char *path, const struct stat *st), void *ctx)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!strncmp(e->d_name, "libssl.so", 9)) {
			if (!stat(path, &st) && S_ISREG(st.st_mode))
				fn(ctx, path, &st);
		} else if (depth > 0 && e->d_type == DT_DIR) {
			each_libssl_in(path, depth - 1, fn, ctx);
		}
	}
	if (d)
		closedir(d);
}

void mp_tls_each_system_libssl(void (*fn)(void *ctx, const char *path, const struct stat *st),
			       void *ctx)
{
	for (size_t i = 0; i < sizeof(system_lib_dirs) / sizeof(system_lib_dirs[0]); i++)
		each_libssl_in(system_lib_dirs[i], 1, fn, ctx);
}
