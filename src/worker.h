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

struct dynscreen;

/* Runs the worker's event loop until drained; returns the exit code.
 * dyn: the shared screening state the master mapped. */
int worker_main(const struct config *cfg, SSL_CTX *ssl_ctx,
    struct dynscreen *dyn, const struct worker_listener *ls, size_t nls,
    unsigned index);

#endif
