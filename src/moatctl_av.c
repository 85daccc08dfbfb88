/* moatctl_av: the antivirus commands of moatctl. "av scan FILE..." sends
 * each file to clamd (INSTREAM, as moatd does with a message) and prints
 * one line per file, clamdscan style:
 *	FILE: OK
 *	FILE: SIGNATURE FOUND
 *	FILE: ERROR REASON
 * and exits 0 when every file is clean, 1 when one is infected, 2 when
 * one could not be scanned (infected wins). "av ping" checks that clamd
 * answers. */
#include "moatctl_av.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clamd.h"
#include "xalloc.h"

#define AV_EXIT_CLEAN 0
#define AV_EXIT_INFECTED 1
#define AV_EXIT_ERROR 2
#define AV_PING_TIMEOUT_MS 5000u
#define AV_DEFAULT_ADDRESS "unix:/run/clamav/clamd.ctl"

/* MOAT_CLAMD first (tests, or a one-off check of another clamd), then
 * [antivirus] clamd; when that is empty (scanning off in moatd), Debian's
 * socket, so the command still answers. */
const char *
moatctl_av_address(const struct config *cfg)
{
	const char *env = getenv("MOAT_CLAMD");

	if (env != NULL && env[0] != '\0')
		return env;
	if (cfg != NULL && cfg->clamd[0] != '\0')
		return cfg->clamd;
	return AV_DEFAULT_ADDRESS;
}

static int
usage(void)
{
	fprintf(stderr, "usage: moatctl av scan FILE...\n"
	    "       moatctl av ping\n");
	return 2;
}

/* Read path whole into *data_r, refusing files over max (clamd would
 * refuse them too). Returns 0, or -1 with a message in err. */
static int
read_file(const char *path, size_t max, uint8_t **data_r, size_t *len_r,
    char *err, size_t errlen)
{
	struct stat sb;
	uint8_t *data;
	size_t len = 0;
	ssize_t n;
	int fd;

	*data_r = NULL;
	*len_r = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		(void)close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s", S_ISDIR(sb.st_mode) ?
		    "is a directory" : "not a regular file");
		(void)close(fd);
		return -1;
	}
	if ((uint64_t)sb.st_size > max) {
		snprintf(err, errlen, "%lld octets exceed the clamd stream "
		    "limit of %zu", (long long)sb.st_size, max);
		(void)close(fd);
		return -1;
	}
	/* +1: a file that grew meanwhile is cut at max, then refused. */
	data = xmalloc((size_t)sb.st_size + 1);
	for (;;) {
		n = read(fd, data + len, (size_t)sb.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			free(data);
			(void)close(fd);
			return -1;
		}
		if (n == 0 || (len += (size_t)n) == (size_t)sb.st_size + 1)
			break;
	}
	(void)close(fd);
	if (len > (size_t)sb.st_size) {
		snprintf(err, errlen, "file grew while being read");
		free(data);
		return -1;
	}
	*data_r = data;
	*len_r = len;
	return 0;
}

static int
av_scan(const struct config *cfg, const char *addr, int argc, char **argv)
{
	struct clamd_limits lim;
	struct clamd_result r;
	char err[256];
	uint8_t *data;
	size_t len;
	int i, ret = AV_EXIT_CLEAN;

	clamd_limits_default(&lim);
	if (cfg->av_timeout > 0)
		lim.timeout_ms = cfg->av_timeout;
	if (cfg->av_max_size > 0 && cfg->av_max_size <= SIZE_MAX)
		lim.stream_max = (size_t)cfg->av_max_size;
	for (i = 0; i < argc; i++) {
		if (read_file(argv[i], lim.stream_max, &data, &len, err,
		    sizeof(err)) < 0) {
			printf("%s: ERROR %s\n", argv[i], err);
			if (ret == AV_EXIT_CLEAN)
				ret = AV_EXIT_ERROR;
			continue;
		}
		(void)clamd_scan_blocking(addr, data, len, &lim, &r);
		free(data);
		switch (r.status) {
		case CLAMD_CLEAN:
			printf("%s: OK\n", argv[i]);
			break;
		case CLAMD_INFECTED:
			printf("%s: %s FOUND\n", argv[i], r.signature);
			ret = AV_EXIT_INFECTED;
			break;
		case CLAMD_ERROR:
			printf("%s: ERROR %s\n", argv[i], r.reason);
			if (ret == AV_EXIT_CLEAN)
				ret = AV_EXIT_ERROR;
			break;
		}
		(void)fflush(stdout);
	}
	return ret;
}

static int
av_ping(const char *addr)
{
	struct clamd_result r;

	(void)clamd_ping_blocking(addr, AV_PING_TIMEOUT_MS, &r);
	if (r.status != CLAMD_CLEAN) {
		printf("%s: ERROR %s\n", addr, r.reason);
		return AV_EXIT_ERROR;
	}
	printf("%s: PONG\n", addr);
	return 0;
}

int
moatctl_av(const struct config *cfg, int argc, char **argv)
{
	const char *addr = moatctl_av_address(cfg);
	int ret;

	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "scan") == 0 && argc >= 3)
		ret = av_scan(cfg, addr, argc - 2, argv + 2);
	else if (strcmp(argv[1], "ping") == 0 && argc == 2)
		ret = av_ping(addr);
	else
		return usage();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "moatctl: write error: %s\n", strerror(errno));
		return AV_EXIT_ERROR;
	}
	return ret;
}
