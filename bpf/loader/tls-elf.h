/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls-elf.h — is this file an OpenSSL, and where are the functions meshpipe probes?
 *
 * A libssl exports SSL_read and friends in .dynsym; an executable with OpenSSL linked in exports
 * them too when it lets native add-ons use it (node does), or keeps them in .symtab when it is
 * not stripped. Uprobes are placed at file offsets, so each symbol's address is translated
 * through the program header that loads it.
 */
#ifndef MP_LOADER_TLS_ELF_H
#define MP_LOADER_TLS_ELF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* The probed functions, in the bit order of enum mp_tls_function. */
#define MP_TLS_NFUNCS 5
extern const char *const mp_tls_function_names[MP_TLS_NFUNCS];

struct mp_tls_symbols {
	uint64_t offset[MP_TLS_NFUNCS]; /* file offset of each function found */
	uint32_t found;                 /* enum mp_tls_function bits */
	bool boringssl;                 /* BoringSSL's own API is there too: not read */
};

/* True when the file has what meshpipe needs: SSL_read and SSL_write. */
static inline bool mp_tls_is_openssl(const struct mp_tls_symbols *s)
{
	return (s->found & 1) && (s->found & 4);
}

/* Inspect the ELF file at `path`. Returns 0 (a file that is not ELF, or has no OpenSSL, has
 * found == 0), or -errno when it cannot be read. */
int mp_tls_inspect_elf(const char *path, struct mp_tls_symbols *out);

/* Call fn for each libssl in the system library directories (st: the file, symlinks followed). */
void mp_tls_each_system_libssl(void (*fn)(void *ctx, const char *path, const struct stat *st),
			       void *ctx);

#endif
