/* zip: a reader of zip archives held in memory, for the attachment
 * scan. It lists members from the central directory (or, when there is
 * none, from the local headers) and inflates one member at a time
 * through a small output window handed to a sink, counting the octets
 * itself: declared sizes are never trusted, so a bomb costs at most the
 * caller's limit in time and one window in memory. Stored and deflated
 * members are read; encrypted ones are reported, never decoded. */
#ifndef MOAT_ZIP_H
#define MOAT_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZIP_NAME_MAX	256	/* member name kept (longer: cut) */
#define ZIP_WINDOW	65536	/* inflate output per sink call */
#define ZIP_MEMBERS_MAX	65535	/* central directory entries read */

enum zip_method {
	ZIP_STORED = 0,
	ZIP_DEFLATED = 8,
};

struct zip_member {
	char		 name[ZIP_NAME_MAX];	/* control octets as '_' */
	bool		 encrypted;
	unsigned	 method;
	const uint8_t	*data;		/* compressed octets, inside the zip */
	size_t		 data_len;
};

/* Called for every member; return 0 to go on, -1 to stop the walk. */
typedef int zip_member_cb(const struct zip_member *m, void *ctx);
/* Called with each window of a member's content; 0 go on, -1 stop. */
typedef int zip_sink_cb(const uint8_t *p, size_t len, void *ctx);

/* True when p starts like a zip archive. */
bool zip_is_zip(const uint8_t *p, size_t len);
/* Walk the members. Returns 0, -1 when cb stopped it, 1 when the
 * archive is damaged (the members seen so far were reported). */
int zip_walk(const uint8_t *p, size_t len, zip_member_cb *cb, void *ctx);
/* Decode a member into sink, at most max octets. Returns 0 (done, the
 * count in *total_r), 1 past max (stopped there), -1 sink stopped, 2 the
 * member cannot be decoded (method, encryption, corrupt data). */
int zip_member_read(const struct zip_member *m, uint64_t max,
    zip_sink_cb *sink, void *ctx, uint64_t *total_r);

#endif
