/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg serve`: the registry's HTTP server (OCI Distribution v1.1 under
 * /v2/, health and metrics), on libmicrohttpd. */
#ifndef UREG_SERVER_SERVER_H
#define UREG_SERVER_SERVER_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

typedef struct {
	const char *root;         /* registry directory (created if needed) */
	const char *listen;       /* "HOST:PORT"; port 0 picks a free one */
	int private_reads;        /* reads need a token too */
	uint64_t max_blob_size;   /* per blob, bytes */
	unsigned threads;         /* 0: one per core */
	unsigned max_connections; /* total */
	unsigned max_per_ip;      /* per client address */
	unsigned timeout_seconds; /* idle connection timeout */
	FILE *access_log;         /* one line per request; NULL: none */
} ureg_server_options;

#define UREG_SERVER_OPTIONS_INIT                                               \
	{                                                                      \
		NULL, "127.0.0.1:5000", 0, (uint64_t)8 << 30, 0, 1024, 256,    \
		        60, NULL                                               \
	}

typedef struct ureg_server ureg_server;

/* Opens the registry root and starts listening. The bound address is
 * available from ureg_server_url() right after. */
int ureg_server_start(ureg_server **out,
                      const ureg_server_options *opts) UREG_WARN_UNUSED;

/* "http://HOST:PORT" actually bound (borrowed). */
const char *ureg_server_url(const ureg_server *server);

/* Stops accepting, lets in-flight requests end or aborts them cleanly,
 * closes the store and frees everything. NULL is fine. */
void ureg_server_stop(ureg_server *server);

#endif
