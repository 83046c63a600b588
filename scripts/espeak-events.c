/*
 * espeak-events: speak lines of text with libespeak-ng and record, for each
 * utterance, the audio and the phonemes eSpeak actually spoke with their start
 * times. Part of hark's corpus recipe (scripts/build-espeak-events.sh builds it);
 * hark itself links no TTS engine and runs this as a separate process.
 *
 * stdin, one request per line (tab-separated):
 *     OUT_PREFIX <TAB> VOICE <TAB> RATE_WPM <TAB> PITCH_0_99 <TAB> TEXT
 * For each request it writes OUT_PREFIX.wav (16-bit mono PCM at eSpeak's rate,
 * 22050 Hz) and OUT_PREFIX.pho (lines "START_SAMPLE <TAB> PHONEME", eSpeak
 * mnemonics, followed by a final line "END_SAMPLE <TAB> #"), then prints
 * "ok OUT_PREFIX" (or "err OUT_PREFIX message") on stdout and flushes.
 */
#include <espeak-ng/speak_lib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int16_t *g_samples = NULL;
static size_t g_len = 0, g_cap = 0;
static FILE *g_pho = NULL;
static int g_rate = 22050;

static void push_samples(const short *wav, int n) {
    if (g_len + (size_t)n > g_cap) {
        size_t cap = g_cap ? g_cap : 65536;
        while (cap < g_len + (size_t)n) cap *= 2;
        int16_t *p = realloc(g_samples, cap * sizeof(int16_t));
        if (!p) { fprintf(stderr, "espeak-events: out of memory\n"); exit(1); }
        g_samples = p;
        g_cap = cap;
    }
    memcpy(g_samples + g_len, wav, (size_t)n * sizeof(int16_t));
    g_len += (size_t)n;
}

static int callback(short *wav, int numsamples, espeak_EVENT *events) {
    if (wav && numsamples > 0) push_samples(wav, numsamples);
    for (espeak_EVENT *e = events; e && e->type != espeakEVENT_LIST_TERMINATED; e++) {
        if (e->type == espeakEVENT_PHONEME && g_pho) {
            char name[9];
            memcpy(name, e->id.string, 8);
            name[8] = 0;
            /* audio_position is in ms from the start of this synthesis call. */
            long start = (long)((double)e->audio_position * g_rate / 1000.0 + 0.5);
            fprintf(g_pho, "%ld\t%s\n", start, name);
        }
    }
    return 0;
}

static void put_u32(FILE *f, uint32_t v) { unsigned char b[4] = {v, v >> 8, v >> 16, v >> 24}; fwrite(b, 1, 4, f); }
static void put_u16(FILE *f, uint16_t v) { unsigned char b[2] = {v, v >> 8}; fwrite(b, 1, 2, f); }

static int write_wav(const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint32_t data = (uint32_t)(g_len * 2);
    fwrite("RIFF", 1, 4, f); put_u32(f, 36 + data); fwrite("WAVE", 1, 4, f);
    fwrite("fmt ", 1, 4, f); put_u32(f, 16); put_u16(f, 1); put_u16(f, 1);
    put_u32(f, (uint32_t)g_rate); put_u32(f, (uint32_t)g_rate * 2); put_u16(f, 2); put_u16(f, 16);
    fwrite("data", 1, 4, f); put_u32(f, data);
    for (size_t i = 0; i < g_len; i++) put_u16(f, (uint16_t)g_samples[i]);
    return fclose(f);
}

/* Speaks one request in a forked child; returns an exit code (0 = ok). */
static int synth_one(const char *prefix, const char *voice, const char *rate, const char *pitch,
                     const char *text) {
    char path[4096];
    if (espeak_SetVoiceByName(voice) != EE_OK) return 1;
    espeak_SetParameter(espeakRATE, atoi(rate), 0);
    espeak_SetParameter(espeakPITCH, atoi(pitch), 0);
    snprintf(path, sizeof path, "%s.pho", prefix);
    g_pho = fopen(path, "w");
    if (!g_pho) return 2;
    g_len = 0;
    espeak_ERROR r = espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8,
                                  NULL, NULL);
    espeak_Synchronize();
    fprintf(g_pho, "%lu\t#\n", (unsigned long)g_len);
    if (fclose(g_pho) != 0) return 2;
    if (r != EE_OK) return 3;
    snprintf(path, sizeof path, "%s.wav", prefix);
    if (write_wav(path) != 0) return 4;
    return 0;
}

int main(void) {
    g_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 500, NULL,
                               espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_DONT_EXIT);
    if (g_rate <= 0) { fprintf(stderr, "espeak-events: espeak_Initialize failed\n"); return 1; }
    espeak_SetSynthCallback(callback);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        char *fields[5];
        int k = 0;
        char *p = line;
        for (; k < 4; k++) {
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            fields[k] = p;
            p = tab + 1;
        }
        if (k != 4) { printf("err - expected 5 tab-separated fields\n"); fflush(stdout); continue; }
        fields[4] = p;
        const char *prefix = fields[0];
        /* eSpeak keeps state between utterances (oscillator phase, pending
         * parameter changes), so the same request would not give the same audio
         * after a different one. Each request therefore runs in a child forked
         * from the freshly initialised process: every utterance starts from the
         * same state, which a resumable, seeded corpus needs. */
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) { printf("err %s fork failed\n", prefix); fflush(stdout); continue; }
        if (pid == 0) _exit(synth_one(prefix, fields[1], fields[2], fields[3], fields[4]));
        int status = 0;
        waitpid(pid, &status, 0);
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 99;
        static const char *msgs[] = {"", "unknown voice", "cannot write .pho", "synthesis failed", "cannot write .wav"};
        if (code == 0) printf("ok %s\n", prefix);
        else printf("err %s %s (%s)\n", prefix, code < 5 ? msgs[code] : "child crashed", fields[1]);
        fflush(stdout);
    }
    free(line);
    free(g_samples);
    espeak_Terminate();
    return 0;
}
