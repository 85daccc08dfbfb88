/* zip: a reader of zip archives held in memory, for the attachment
 * scan. It lists members from the central directory (or, when there is
 * none, from the local headers) and inflates one member at a time
 * through a small output window handed to a sink, counting the octets
 * itself: declared sizes are never trusted, so a bomb costs at most the
 * caller's limits in time and one window in memory. The octets read
 * from the archive are counted too (a stream can inflate to nothing),
 * and members that share octets are refused, so the work is linear in
 * the archive's size. An archive may have octets in front of it (a
 * self-extracting stub): its offsets are shifted as Info-ZIP does.
 * Stored and deflated members are read; encrypted ones are reported,
 * never decoded. */
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

/* A member's read: the caller's limits and what it took. */
struct zip_read {
	uint64_t	 max_out;	/* content octets handed out at most */
	uint64_t	 max_in;	/* archive octets read at most */
	uint64_t	 out;		/* set: content octets handed out */
	uint64_t	 in;		/* set: archive octets read (the work) */
};

#define ZIP_OVERLAP	2	/* zip_walk: members share octets */

/* Called for every member; return 0 to go on, -1 to stop the walk. */
typedef int zip_member_cb(const struct zip_member *m, void *ctx);
/* Called with each window of a member's content; 0 go on, -1 stop. */
typedef int zip_sink_cb(const uint8_t *p, size_t len, void *ctx);

/* True when p starts like a zip archive. */
bool zip_is_zip(const uint8_t *p, size_t len);
/* True when p holds a zip: a local header at 0, or an end of central
 * directory record (in the last 64 KiB + 22 octets) that leads to its
 * directory, also with octets in front of the archive. */
bool zip_is_archive(const uint8_t *p, size_t len);
/* Walk the members. Returns 0, -1 when cb stopped it, 1 when the
 * archive is damaged (the members seen so far were reported),
 * ZIP_OVERLAP when members share octets (a bomb; none was reported). */
int zip_walk(const uint8_t *p, size_t len, zip_member_cb *cb, void *ctx);
/* Decode a member into sink, at most rd->max_out octets out of at most
 * rd->max_in read. Returns 0 (done, the counts in rd), 1 past max_out
 * (stopped there), 3 past max_in, -1 sink stopped, 2 the member cannot
 * be decoded (method, encryption, corrupt data). */
int zip_member_read(const struct zip_member *m, struct zip_read *rd,
    zip_sink_cb *sink, void *ctx);

#endif
