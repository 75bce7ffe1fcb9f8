/* SPDX-License-Identifier: MIT */
/*
 * Frames on the job channel (a vsock stream to host port 1024,
 * docs/IMAGES.md).
 *
 *   byte 0     type: FRAME_STDOUT (1), FRAME_STDERR (2), FRAME_EXIT (3) or
 *              FRAME_FAIL (4)
 *   bytes 1-2  payload length, little endian, 1..FRAME_MAX_PAYLOAD (exactly
 *              1 for FRAME_EXIT and FRAME_FAIL: the status byte)
 *   bytes 3..  payload
 *
 * The guest init encodes; the host decodes with jobchan_feed()
 * (vmm/jobchan.h). Pure: no I/O, no globals.
 */
#ifndef MVM_FRAME_H
#define MVM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_STDOUT 1
#define FRAME_STDERR 2
#define FRAME_EXIT 3
#define FRAME_FAIL 4
#define FRAME_HEADER 3
#define FRAME_MAX_PAYLOAD 4096

/*
 * Write the header for a payload of len bytes at out[0..3) and return 3, or
 * -EINVAL for a bad type or len outside 1..FRAME_MAX_PAYLOAD. Callers that
 * read the payload straight into out + FRAME_HEADER avoid a copy.
 */
int frame_encode(uint8_t *out, uint8_t type, size_t len);

#endif
