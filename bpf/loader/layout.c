/* SPDX-License-Identifier: Apache-2.0 */
#include "layout.h"

#include <stddef.h>
#include <stdio.h>

#include "meshpipe_abi.h"

static const char *sep;

#define BEGIN_STRUCT(S)                                                                        \
	do {                                                                                   \
		printf("%s\n    \"%s\": {\"size\": %zu, \"fields\": {", first_struct ? "" : ",", #S, \
		       sizeof(struct S));                                                      \
		first_struct = 0;                                                              \
		sep = "";                                                                      \
	} while (0)
#define FIELD(S, F)                                                                            \
	do {                                                                                   \
		printf("%s\n      \"%s\": {\"offset\": %zu, \"size\": %zu}", sep, #F,            \
		       offsetof(struct S, F), sizeof(((struct S *)0)->F));                     \
		sep = ",";                                                                     \
	} while (0)
#define END_STRUCT() printf("\n    }}")

#define BEGIN_ENUM(NAME)                                                                       \
	do {                                                                                   \
		printf("%s\n    \"%s\": {", first_enum ? "" : ",", NAME);                      \
		first_enum = 0;                                                                \
		sep = "";                                                                      \
	} while (0)
#define ENTRY(NAME, VALUE)                                                                     \
	do {                                                                                   \
		printf("%s\"%s\": %lld", sep, NAME, (long long)(VALUE));                        \
		sep = ", ";                                                                    \
	} while (0)
#define END_ENUM() printf("}")

void mp_print_layout(void)
{
	int first_struct = 1, first_enum = 1;

	printf("{\n  \"abiVersion\": %d,\n", MP_ABI_VERSION);
	printf("  \"constants\": {\"CAPTURE_DEFAULT\": %d, \"CAPTURE_MAX\": %d, \"IOV_MAX\": %d, "
	       "\"IOV_WALK_MAX\": %d, \"UNDECIDED_LIMIT\": %d, \"H2_DATA_DEFAULT\": %d, "
	       "\"H2_DATA_MAX\": %d, \"FRAME_HEADER_SIZE\": %zu, \"TLS_PATH_MAX\": %d, "
	       "\"DROP_TRUNCATIONS\": %u},\n",
	       MP_CAPTURE_DEFAULT, MP_CAPTURE_MAX, MP_IOV_MAX, MP_IOV_WALK_MAX, MP_UNDECIDED_LIMIT,
	       MP_H2_DATA_DEFAULT, MP_H2_DATA_MAX, sizeof(__u32), MP_TLS_PATH_MAX,
	       MP_DROP_TRUNCATIONS);

	printf("  \"structs\": {");
	BEGIN_STRUCT(mp_conn_tuple);
	FIELD(mp_conn_tuple, local_addr);
	FIELD(mp_conn_tuple, peer_addr);
	FIELD(mp_conn_tuple, local_port);
	FIELD(mp_conn_tuple, peer_port);
	FIELD(mp_conn_tuple, family);
	FIELD(mp_conn_tuple, _pad0);
	END_STRUCT();

	BEGIN_STRUCT(mp_event_header);
	FIELD(mp_event_header, kind);
	FIELD(mp_event_header, syscall);
	FIELD(mp_event_header, flags);
	FIELD(mp_event_header, timestamp_ns);
	FIELD(mp_event_header, conn_id);
	FIELD(mp_event_header, cgroup_id);
	FIELD(mp_event_header, tgid);
	FIELD(mp_event_header, tid);
	FIELD(mp_event_header, fd);
	FIELD(mp_event_header, generation);
	FIELD(mp_event_header, netns_ino);
	FIELD(mp_event_header, role);
	FIELD(mp_event_header, direction);
	FIELD(mp_event_header, _pad0);
	FIELD(mp_event_header, tuple);
	END_STRUCT();

	BEGIN_STRUCT(mp_data_event);
	FIELD(mp_data_event, hdr);
	FIELD(mp_data_event, byte_count);
	FIELD(mp_data_event, captured);
	FIELD(mp_data_event, duration_ns);
	FIELD(mp_data_event, _pad0);
	END_STRUCT();

	BEGIN_STRUCT(mp_open_event);
	FIELD(mp_open_event, hdr);
	END_STRUCT();

	BEGIN_STRUCT(mp_close_event);
	FIELD(mp_close_event, hdr);
	FIELD(mp_close_event, open_ns);
	FIELD(mp_close_event, bytes_egress);
	FIELD(mp_close_event, bytes_ingress);
	END_STRUCT();

	BEGIN_STRUCT(mp_connect_failed_event);
	FIELD(mp_connect_failed_event, hdr);
	FIELD(mp_connect_failed_event, started_ns);
	FIELD(mp_connect_failed_event, error);
	FIELD(mp_connect_failed_event, _pad0);
	END_STRUCT();

	BEGIN_STRUCT(mp_stats_record);
	FIELD(mp_stats_record, kind);
	FIELD(mp_stats_record, _pad0);
	FIELD(mp_stats_record, nr_drop_reasons);
	FIELD(mp_stats_record, monotonic_ns);
	FIELD(mp_stats_record, realtime_ns);
	FIELD(mp_stats_record, ring_records);
	FIELD(mp_stats_record, ring_bytes);
	FIELD(mp_stats_record, forwarded_records);
	FIELD(mp_stats_record, forwarded_bytes);
	FIELD(mp_stats_record, loader_dropped_records);
	FIELD(mp_stats_record, loader_dropped_bytes);
	FIELD(mp_stats_record, kernel_drops);
	END_STRUCT();

	BEGIN_STRUCT(mp_ready_record);
	FIELD(mp_ready_record, kind);
	FIELD(mp_ready_record, abi_version);
	FIELD(mp_ready_record, loader_tgid);
	FIELD(mp_ready_record, capture_cap);
	FIELD(mp_ready_record, ring_bytes);
	FIELD(mp_ready_record, poll_ms);
	FIELD(mp_ready_record, features);
	FIELD(mp_ready_record, monotonic_ns);
	FIELD(mp_ready_record, realtime_ns);
	END_STRUCT();

	BEGIN_STRUCT(mp_nat_record);
	FIELD(mp_nat_record, kind);
	FIELD(mp_nat_record, family);
	FIELD(mp_nat_record, _pad0);
	FIELD(mp_nat_record, conn_id);
	FIELD(mp_nat_record, addr);
	FIELD(mp_nat_record, port);
	FIELD(mp_nat_record, _pad1);
	FIELD(mp_nat_record, _pad2);
	END_STRUCT();

	BEGIN_STRUCT(mp_tls_library_record);
	FIELD(mp_tls_library_record, kind);
	FIELD(mp_tls_library_record, state);
	FIELD(mp_tls_library_record, tgid);
	FIELD(mp_tls_library_record, functions);
	FIELD(mp_tls_library_record, error);
	FIELD(mp_tls_library_record, dev);
	FIELD(mp_tls_library_record, ino);
	FIELD(mp_tls_library_record, path);
	END_STRUCT();
	printf("\n  },\n");

	printf("  \"enums\": {");
	BEGIN_ENUM("recordKind");
	ENTRY("DATA", MP_REC_DATA);
	ENTRY("OPEN", MP_REC_OPEN);
	ENTRY("CLOSE", MP_REC_CLOSE);
	ENTRY("CONNECT_FAILED", MP_REC_CONNECT_FAILED);
	ENTRY("STATS", MP_REC_STATS);
	ENTRY("READY", MP_REC_READY);
	ENTRY("NAT", MP_REC_NAT);
	ENTRY("TLS_LIBRARY", MP_REC_TLS_LIBRARY);
	END_ENUM();

	BEGIN_ENUM("syscall");
	ENTRY("NONE", MP_SYS_NONE);
	ENTRY("READ", MP_SYS_READ);
	ENTRY("WRITE", MP_SYS_WRITE);
	ENTRY("READV", MP_SYS_READV);
	ENTRY("WRITEV", MP_SYS_WRITEV);
	ENTRY("SENDTO", MP_SYS_SENDTO);
	ENTRY("RECVFROM", MP_SYS_RECVFROM);
	ENTRY("SENDMSG", MP_SYS_SENDMSG);
	ENTRY("RECVMSG", MP_SYS_RECVMSG);
	ENTRY("SENDFILE", MP_SYS_SENDFILE);
	ENTRY("CONNECT", MP_SYS_CONNECT);
	ENTRY("ACCEPT", MP_SYS_ACCEPT);
	ENTRY("ACCEPT4", MP_SYS_ACCEPT4);
	ENTRY("CLOSE", MP_SYS_CLOSE);
	ENTRY("SSL_READ", MP_SYS_SSL_READ);
	ENTRY("SSL_WRITE", MP_SYS_SSL_WRITE);
	END_ENUM();

	BEGIN_ENUM("direction");
	ENTRY("NONE", MP_DIR_NONE);
	ENTRY("EGRESS", MP_DIR_EGRESS);
	ENTRY("INGRESS", MP_DIR_INGRESS);
	END_ENUM();

	BEGIN_ENUM("role");
	ENTRY("UNKNOWN", MP_ROLE_UNKNOWN);
	ENTRY("CLIENT", MP_ROLE_CLIENT);
	ENTRY("SERVER", MP_ROLE_SERVER);
	END_ENUM();

	BEGIN_ENUM("family");
	ENTRY("INET", MP_FAMILY_INET);
	ENTRY("INET6", MP_FAMILY_INET6);
	END_ENUM();

	BEGIN_ENUM("flags");
	ENTRY("MSG_START", MP_F_MSG_START);
	ENTRY("MSG_RESPONSE", MP_F_MSG_RESPONSE);
	ENTRY("TRUNCATED", MP_F_TRUNCATED);
	ENTRY("CHUNK_END", MP_F_CHUNK_END);
	ENTRY("READ_FAILED", MP_F_READ_FAILED);
	ENTRY("IOV_LIMIT", MP_F_IOV_LIMIT);
	ENTRY("ROLE_INFERRED", MP_F_ROLE_INFERRED);
	ENTRY("PREEXISTING", MP_F_PREEXISTING);
	ENTRY("V4_MAPPED", MP_F_V4_MAPPED);
	ENTRY("ASYNC", MP_F_ASYNC);
	ENTRY("TLS", MP_F_TLS);
	ENTRY("H2", MP_F_H2);
	ENTRY("H2_ELIDED", MP_F_H2_ELIDED);
	ENTRY("H2_FRAME_START", MP_F_H2_FRAME_START);
	END_ENUM();

	BEGIN_ENUM("dropReason");
	ENTRY("RINGBUF_FULL", MP_DROP_RINGBUF_FULL);
	ENTRY("CONN_MAP_FULL", MP_DROP_CONN_MAP_FULL);
	ENTRY("ARGS_MAP_FULL", MP_DROP_ARGS_MAP_FULL);
	ENTRY("PENDING_MAP_FULL", MP_DROP_PENDING_MAP_FULL);
	ENTRY("READ_USER", MP_DROP_READ_USER);
	ENTRY("READ_KERNEL", MP_DROP_READ_KERNEL);
	ENTRY("IOV_LIMIT", MP_DROP_IOV_LIMIT);
	ENTRY("CONN_MISMATCH", MP_DROP_CONN_MISMATCH);
	ENTRY("SCRATCH", MP_DROP_SCRATCH);
	ENTRY("TLS_UNBOUND", MP_DROP_TLS_UNBOUND);
	ENTRY("TLS_NOTICE", MP_DROP_TLS_NOTICE);
	ENTRY("READ_PAYLOAD", MP_DROP_READ_PAYLOAD);
	ENTRY("_MAX", MP_DROP__MAX);
	END_ENUM();

	BEGIN_ENUM("exitCode");
	ENTRY("OK", MP_EXIT_OK);
	ENTRY("INTERNAL", MP_EXIT_INTERNAL);
	ENTRY("USAGE", MP_EXIT_USAGE);
	ENTRY("NO_BTF", MP_EXIT_NO_BTF);
	ENTRY("PERMISSION", MP_EXIT_PERMISSION);
	ENTRY("TRACEFS", MP_EXIT_TRACEFS);
	ENTRY("KERNEL", MP_EXIT_KERNEL);
	END_ENUM();

	BEGIN_ENUM("feature");
	ENTRY("ASYNC_CONNECT", MP_FEAT_ASYNC_CONNECT);
	ENTRY("TLS", MP_FEAT_TLS);
	END_ENUM();

	BEGIN_ENUM("tlsLibraryState");
	ENTRY("ATTACHED", MP_TLS_ATTACHED);
	ENTRY("DETACHED", MP_TLS_DETACHED);
	ENTRY("FAILED", MP_TLS_FAILED);
	ENTRY("UNSUPPORTED", MP_TLS_UNSUPPORTED);
	END_ENUM();

	BEGIN_ENUM("tlsFunction");
	ENTRY("SSL_READ", MP_TLS_FN_SSL_READ);
	ENTRY("SSL_READ_EX", MP_TLS_FN_SSL_READ_EX);
	ENTRY("SSL_WRITE", MP_TLS_FN_SSL_WRITE);
	ENTRY("SSL_WRITE_EX", MP_TLS_FN_SSL_WRITE_EX);
	ENTRY("SSL_DO_HANDSHAKE", MP_TLS_FN_SSL_DO_HANDSHAKE);
	END_ENUM();
	printf("\n  }\n}\n");
}
