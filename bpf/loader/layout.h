/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MP_LOADER_LAYOUT_H
#define MP_LOADER_LAYOUT_H

/* Print the ABI of include/meshpipe_abi.h as JSON on stdout: every struct's size and
 * every field's offset and size, every enum value. The TypeScript mirror
 * (collectors/capture/loader/record-layout.ts) is tested against this output, so the compiler,
 * not a human, is the source of truth for offsets. */
void mp_print_layout(void);

#endif
