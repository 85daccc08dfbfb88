/* tls: OpenSSL server contexts (TLS 1.2+, forward-secret AEAD ciphers only)
 * and the self-signed certificate made on first start when none is
 * configured. Per-connection TLS over memory BIOs lives in conn.c. */
#ifndef MOAT_TLS_H
#define MOAT_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"
#include "proc.h"

/* Build the server SSL_CTX from cfg: the configured cert/key, or
 * <data_dir>/tls/{cert,key}.pem, created (self-signed for cfg->hostname,
 * owned by pu) when missing. Returns NULL with a message in err. */
SSL_CTX *tls_server_ctx_new(const struct config *cfg,
    const struct proc_user *pu, char *err, size_t errlen);

/* Create a self-signed EC P-256 certificate for hostname, valid 10 years.
 * Returns 0 or -1 with err. */
int tls_make_selfsigned(const char *hostname, const char *cert_path,
    const char *key_path, char *err, size_t errlen);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" */
int tls_describe(SSL *ssl, char *dst, size_t dstlen);

#endif
