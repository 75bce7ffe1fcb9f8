/* SPDX-License-Identifier: MIT */
/*
 * The job channel: the guest init connects to host vsock port MVM_PORT_JOB
 * and sends the job's stdout and stderr, then its exit status, as frames
 *
 *     type (1 byte: 1 = stdout, 2 = stderr, 3 = exit status, 4 = init
 *           failure code)
 *     length (2 bytes, little endian, 1..JOBCHAN_MAX_PAYLOAD; exactly 1
 *             for types 3 and 4)
 *     payload
 *
 * The guest controls every byte, so the decoder is a pure, bounded state
 * machine fed one byte at a time: a bad type or length is an error that
 * stops the VM, never an overflow.
 */
#ifndef MVM_JOBCHAN_H
#define MVM_JOBCHAN_H

#include <stdint.h>

#define JOBCHAN_MAX_PAYLOAD 4096
#define JOBCHAN_STDOUT 1
#define JOBCHAN_STDERR 2
#define JOBCHAN_EXIT 3 /* payload: the exit status byte */
#define JOBCHAN_FAIL 4 /* payload: enum mvm_init_failure */

enum jobchan_rc { JOBCHAN_MORE, JOBCHAN_FRAME, JOBCHAN_ERROR };

struct jobchan {
	int state; /* 0 type, 1 len lo, 2 len hi, 3 payload, 4 broken */
	uint8_t type;
	uint16_t len, got;
	uint8_t buf[JOBCHAN_MAX_PAYLOAD];
};

void jobchan_init(struct jobchan *c);
/*
 * Feed one byte. On JOBCHAN_FRAME, c->type, c->buf and c->len hold a
 * complete frame until the next call. After JOBCHAN_ERROR every further byte
 * is an error too.
 */
enum jobchan_rc jobchan_feed(struct jobchan *c, uint8_t byte);

#endif
