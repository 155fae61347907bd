/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls-scan.h — `meshpipe-loader --tls-scan`: which TLS libraries this node's processes use, for
 * `meshpipe doctor`. Reads /proc and the files only: no BPF, and root only to see every process.
 */
#ifndef MP_LOADER_TLS_SCAN_H
#define MP_LOADER_TLS_SCAN_H

/* Prints {"libraries": [...], "processes": N, "unreadable": M} on stdout; returns an exit code. */
int mp_tls_scan_print(void);

#endif
