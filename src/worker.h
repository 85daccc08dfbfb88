/* worker: the network-facing child process (one per core). */
#ifndef MOAT_WORKER_H
#define MOAT_WORKER_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"

struct worker_listener {
	int			fd;
	enum listen_service	service;
};

/* Runs the worker's event loop until drained; returns the exit code. */
int worker_main(const struct config *cfg, SSL_CTX *ssl_ctx,
    const struct worker_listener *ls, size_t nls, unsigned index);

#endif
