/*
 * C client test of restarts and replays, in one process on a virtual clock: a camera that
 * restarts is shown again within a second; a hub that restarts shows the running camera
 * again within a second; a recording of the camera's first life, played to the running hub
 * and to a hub that restarted since, shows nothing (the second hub's nonce is new).
 * Built with: gcc -std=c11 -Wall -Wextra -Werror -pedantic (see tests/ffi_c.rs).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealcam.h"
#include "check.h"

#define W 96
#define H 64
#define FRAME_US 33333
#define MAX_RECORDED 4096

static const uint8_t SECRET[] = "restart test secret, 32 bytes!!";

static uint8_t *recorded[MAX_RECORDED];
static size_t recorded_len[MAX_RECORDED];
static int n_recorded = 0;

static sealcam_sender *camera(void) {
    sealcam_sender_config sc = {.struct_size = sizeof sc};
    CHECK(sealcam_sender_config_default(&sc) == SEALCAM_OK);
    sc.ssrc = 7;
    sc.stream_id = (const uint8_t *)"porch";
    sc.stream_id_len = 5;
    sc.base_secret = SECRET;
    sc.base_secret_len = sizeof SECRET - 1;
    sc.bitrate_bps = 300000;
    sealcam_sender *tx = NULL;
    CHECK(sealcam_sender_new(&sc, &tx) == SEALCAM_OK);
    return tx;
}

static sealcam_receiver *hub(void) {
    sealcam_receiver_config rc = {.struct_size = sizeof rc};
    CHECK(sealcam_receiver_config_default(&rc) == SEALCAM_OK);
    rc.ssrc = 7;
    rc.stream_id = (const uint8_t *)"porch";
    rc.stream_id_len = 5;
    rc.base_secret = SECRET;
    rc.base_secret_len = sizeof SECRET - 1;
    sealcam_receiver *rx = NULL;
    CHECK(sealcam_receiver_new(&rc, &rx) == SEALCAM_OK);
    return rx;
}

/* Frames shown (not stale) by `rx`; the time of the first in *first (0: none). */
static int drain_frames(sealcam_receiver *rx, uint64_t now, uint64_t *first) {
    int shown = 0;
    sealcam_frame f = {.struct_size = sizeof f};
    while (sealcam_receiver_poll_frame(rx, &f) == SEALCAM_OK) {
        CHECK(f.stale == 0);
        if (*first == 0) *first = now;
        shown++;
    }
    return shown;
}

/* Streams `frames` frames of `tx` into `rx` from virtual time `start`, feedback included;
   records packets while `record` is set. Returns the frames shown. */
static int stream(sealcam_sender *tx, sealcam_receiver *rx, uint64_t start, int frames, int record,
                  uint64_t *first) {
    static uint8_t y[W * H], u[W * H / 4], v[W * H / 4], pkt[1500], fb[1500];
    int shown = 0;
    for (int n = 0; n < frames; n++) {
        uint64_t now = start + (uint64_t)n * FRAME_US;
        for (int k = 0; k < W * H; k++) y[k] = (uint8_t)(16 + ((k * 5 + n * 9) & 0x7f));
        memset(u, 110, sizeof u);
        memset(v, 150, sizeof v);
        sealcam_image img = {sizeof img, SEALCAM_FORMAT_I420, W, H, now, {y, u, v}, {W, W / 2, W / 2},
                             {W * H, W * H / 4, W * H / 4}};
        CHECK(sealcam_sender_push_frame(tx, now, &img, NULL) == SEALCAM_OK);
        uint64_t t = now;
        while (t < now + FRAME_US) {
            size_t len = 0;
            sealcam_result r = sealcam_sender_poll_transmit(tx, t, pkt, sizeof pkt, &len);
            if (r == SEALCAM_AGAIN) {
                if (sealcam_sender_poll_timeout(tx, &t) != SEALCAM_OK) break;
                continue;
            }
            CHECK(r == SEALCAM_OK);
            if (record && n_recorded < MAX_RECORDED) {
                recorded[n_recorded] = malloc(len);
                memcpy(recorded[n_recorded], pkt, len);
                recorded_len[n_recorded++] = len;
            }
            sealcam_receiver_handle_packet(rx, t, pkt, len);
        }
        CHECK(sealcam_receiver_handle_timeout(rx, now) == SEALCAM_OK);
        size_t fb_len = 0;
        while (sealcam_receiver_poll_feedback(rx, now, fb, sizeof fb, &fb_len) == SEALCAM_OK)
            sealcam_sender_handle_feedback(tx, now, fb, fb_len);
        shown += drain_frames(rx, now, first);
    }
    return shown;
}

/* Plays the recording into `rx` from `start`, 2 ms apart; returns the frames shown. */
static int replay(sealcam_receiver *rx, uint64_t start) {
    uint8_t fb[1500];
    uint64_t first = 0;
    int shown = 0;
    for (int i = 0; i < n_recorded; i++) {
        uint64_t t = start + (uint64_t)i * 2000;
        sealcam_receiver_handle_packet(rx, t, recorded[i], recorded_len[i]);
        sealcam_receiver_handle_timeout(rx, t);
        size_t fb_len = 0;
        while (sealcam_receiver_poll_feedback(rx, t, fb, sizeof fb, &fb_len) == SEALCAM_OK) {
        }
        shown += drain_frames(rx, t, &first);
    }
    return shown;
}

int main(void) {
    sealcam_receiver *rx = hub();
    sealcam_sender *tx = camera();
    if (!rx || !tx) return 1;
    uint64_t first = 0;

    /* First life: 3 s, recorded. The first frame goes before the hub's nonce is back. */
    int shown = stream(tx, rx, 0, 90, 1, &first);
    CHECK(shown >= 85);
    printf("first life: %d of 90 frames shown\n", shown);

    /* The camera restarts (same config) and streams 5 s more. */
    sealcam_sender_free(tx);
    tx = camera();
    uint64_t restart = 4000000;
    first = 0;
    shown = stream(tx, rx, restart, 150, 0, &first);
    CHECK(first != 0 && first - restart <= 1000000);
    CHECK(shown >= 140);
    printf("camera restart: first frame %llu ms later, %d of 150 shown\n",
           (unsigned long long)((first - restart) / 1000), shown);

    /* The recording of the first life played to the running hub: nothing shown. */
    CHECK(replay(rx, 10000000) == 0);

    /* The hub restarts; the camera keeps going. */
    sealcam_receiver_free(rx);
    rx = hub();
    uint64_t hub_restart = 20000000;
    first = 0;
    shown = stream(tx, rx, hub_restart, 150, 0, &first);
    CHECK(first != 0 && first - hub_restart <= 1000000);
    CHECK(shown >= 140);
    printf("hub restart: first frame %llu ms later, %d of 150 shown\n",
           (unsigned long long)((first - hub_restart) / 1000), shown);

    /* The recording played to the hub that restarted since it was made: nothing shown, and
       the hub challenged the recorded session instead. */
    sealcam_receiver *fresh = hub();
    CHECK(replay(fresh, 30000000) == 0);
    sealcam_receiver_stats st = {.struct_size = sizeof st};
    CHECK(sealcam_receiver_get_stats(fresh, &st) == SEALCAM_OK);
    CHECK(st.frames_output == 0 && st.hub_nonces_sent > 0);
    printf("replayed session: %d packets, 0 frames shown, %llu nonces sent to it\n", n_recorded,
           (unsigned long long)st.hub_nonces_sent);

    for (int i = 0; i < n_recorded; i++) free(recorded[i]);
    sealcam_receiver_free(fresh);
    sealcam_receiver_free(rx);
    sealcam_sender_free(tx);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("ffi-tests/restarts.c: all checks passed\n");
    return 0;
}
