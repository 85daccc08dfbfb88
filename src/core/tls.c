/* tls: server SSL_CTX set-up and the self-signed certificate. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "util.h"

static void
ssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, e ? buf : "unknown error");
	ERR_clear_error();
}

static int
write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *x509)
{
	int fd, ok;
	FILE *f;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return -1;
	}
	if (pkey != NULL)
		ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509(f, x509);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

int
tls_make_selfsigned(const char *hostname, const char *cert_path,
    const char *key_path, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	char san[300];
	int r = -1;

	pkey = EVP_EC_gen("P-256");
	if (pkey == NULL) {
		ssl_error(err, errlen, "EC key generation");
		goto out;
	}
	x = X509_new();
	if (x == NULL || !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x),
		(long)time(NULL)) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) ==
		NULL ||
	    !X509_set_pubkey(x, pkey)) {
		ssl_error(err, errlen, "certificate set-up");
		goto out;
	}
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)hostname, -1, -1, 0) ||
	    !X509_set_issuer_name(x, name)) {
		ssl_error(err, errlen, "certificate name");
		goto out;
	}
	if (snprintf(san, sizeof(san), "DNS:%s", hostname) >=
	    (int)sizeof(san)) {
		snprintf(err, errlen, "host name too long");
		goto out;
	}
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext == NULL || !X509_add_ext(x, ext, -1) ||
	    !X509_sign(x, pkey, EVP_sha256())) {
		ssl_error(err, errlen, "certificate signing");
		goto out;
	}
	if (write_pem(key_path, 0600, pkey, NULL) < 0 ||
	    write_pem(cert_path, 0644, NULL, x) < 0) {
		snprintf(err, errlen, "writing %s: %s", key_path,
		    strerror(errno));
		goto out;
	}
	r = 0;
out:
	X509_EXTENSION_free(ext);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return r;
}

SSL_CTX *
tls_server_ctx_new(const struct config *cfg, const struct proc_user *pu,
    char *err, size_t errlen)
{
	char dir[CONFIG_PATH_MAX + 8], cert[CONFIG_PATH_MAX + 32],
	    key[CONFIG_PATH_MAX + 32];
	SSL_CTX *ctx;

	if (cfg->tls_cert[0] != '\0') {
		moat_strlcpy(cert, cfg->tls_cert, sizeof(cert));
		moat_strlcpy(key, cfg->tls_key, sizeof(key));
	} else {
		snprintf(dir, sizeof(dir), "%s/tls", cfg->data_dir);
		snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
		snprintf(key, sizeof(key), "%s/key.pem", dir);
		if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
			if (proc_mkdir_owned(dir, pu) < 0) {
				snprintf(err, errlen, "%s: %s", dir,
				    strerror(errno));
				return NULL;
			}
			if (tls_make_selfsigned(cfg->hostname, cert, key, err,
			    errlen) < 0)
				return NULL;
			if (pu->drop && (chown(cert, pu->uid, pu->gid) < 0 ||
			    chown(key, pu->uid, pu->gid) < 0)) {
				snprintf(err, errlen, "chown %s: %s", key,
				    strerror(errno));
				return NULL;
			}
			log_info("event=tls-selfsigned cert=%s host=%s", cert,
			    cfg->hostname);
		}
	}

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		ssl_error(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* Memory BIOs: partial writes are fine and buffers may move. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (!SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers)) {
		ssl_error(err, errlen, "[tls] ciphers");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_error(err, errlen, cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_error(err, errlen, key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
tls_describe(SSL *ssl, char *dst, size_t dstlen)
{
	int alg = 0;
	int bits = SSL_get_cipher_bits(ssl, &alg);
	int n = snprintf(dst, dstlen, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), SSL_get_cipher_name(ssl), bits, alg);

	return n < 0 || (size_t)n >= dstlen ? -1 : 0;
}
