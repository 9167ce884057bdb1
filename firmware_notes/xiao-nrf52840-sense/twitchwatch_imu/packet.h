// twitchwatch open IMU profile v1 (firmware_notes/open-imu-profile.md): packet packing,
// command handling and the sample clock of a FIFO-driven band.
//
// Plain C++11 with no Arduino header, so that the same code runs in the sketch and, compiled
// with g++ on a PC, in the project's tests (tests/firmware/packet_driver.cpp).
//
// Units: device time in nanoseconds (int64) on the microcontroller's own clock; rates in
// milli-hertz; accelerometer LSB in micro-g; gyro LSB in milli-degrees per second.
#ifndef TWIMU_PACKET_H
#define TWIMU_PACKET_H

#include <stddef.h>
#include <stdint.h>

namespace twimu {

const uint8_t VERSION = 1;
const size_t HEADER_SIZE = 20;
const uint8_t FLAG_GYRO = 0x01;

// Control commands, answer marker and status codes (spec: "Control").
enum { CMD_START = 0x01, CMD_STOP = 0x02, CMD_INFO = 0x03, ANSWER = 0xF1 };
enum {
  ST_OK = 0, ST_BAD_RATE = 1, ST_BAD_RANGE = 2, ST_NO_GYRO = 3, ST_STREAMING = 4,
  ST_BAD_COMMAND = 5
};
const uint8_t BATTERY_UNKNOWN = 255;

inline void put_u16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
inline void put_u32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = uint8_t(v >> (8 * i)); }
inline void put_u64(uint8_t* p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = uint8_t(v >> (8 * i)); }

// Samples that fit one notification at this ATT MTU (0: not even one).
inline uint8_t max_samples(uint16_t att_mtu, bool gyro) {
  if (att_mtu < 3 + HEADER_SIZE) return 0;
  size_t n = (att_mtu - 3 - HEADER_SIZE) / (gyro ? 12 : 6);
  return uint8_t(n > 255 ? 255 : n);
}

// Write one data packet into out[0..cap). acc (and gyro, or NULL) hold n x (x, y, z).
// Returns the packet length, or 0 when n is 0 or the packet does not fit cap.
inline size_t pack_packet(uint8_t* out, size_t cap, uint16_t seq, uint64_t t0_us,
                          uint32_t period_ns, uint16_t acc_lsb_ug, uint8_t gyro_lsb_mdps,
                          const int16_t* acc, const int16_t* gyro, uint8_t n) {
  size_t len = HEADER_SIZE + size_t(n) * (gyro ? 12 : 6);
  if (n == 0 || len > cap) return 0;
  out[0] = VERSION;
  out[1] = gyro ? FLAG_GYRO : 0;
  put_u16(out + 2, seq);
  put_u64(out + 4, t0_us);
  put_u32(out + 12, period_ns);
  put_u16(out + 16, acc_lsb_ug);
  out[18] = n;
  out[19] = gyro ? gyro_lsb_mdps : 0;
  uint8_t* p = out + HEADER_SIZE;
  for (size_t i = 0; i < size_t(n) * 3; i++, p += 2) put_u16(p, uint16_t(acc[i]));
  if (gyro)
    for (size_t i = 0; i < size_t(n) * 3; i++, p += 2) put_u16(p, uint16_t(gyro[i]));
  return len;
}

// What a band can do: its output rates (ascending, milli-hertz), its ranges (bit 0 = 2 g,
// bit 1 = 4 g, bit 2 = 8 g, bit 3 = 16 g) and whether it has a gyro.
struct Band {
  const uint32_t* rates_mhz;
  uint8_t n_rates;
  uint8_t ranges;
  bool has_gyro;
};

// The stream settings chosen by START.
struct Settings {
  uint8_t rate_index;  // into Band::rates_mhz
  uint8_t range_g;     // 2, 4, 8 or 16
  bool gyro;
};

// Lowest band rate >= the request (the spec rounds up); false when 0 or above the highest.
inline bool choose_rate(const Band& band, uint16_t rate_hz, uint8_t& index) {
  if (rate_hz == 0) return false;
  for (uint8_t i = 0; i < band.n_rates; i++)
    if (band.rates_mhz[i] >= uint32_t(rate_hz) * 1000u) { index = i; return true; }
  return false;
}

// Smallest band range >= the request; false when 0 or above the largest.
inline bool choose_range(const Band& band, uint8_t range_g, uint8_t& chosen) {
  if (range_g == 0) return false;
  for (uint8_t bit = 0; bit < 4; bit++) {
    uint8_t g = uint8_t(2u << bit);
    if ((band.ranges >> bit & 1) && g >= range_g) { chosen = g; return true; }
  }
  return false;
}

// Handle one write to the control characteristic. Updates streaming/settings on START and
// STOP and writes the answer (3 bytes, or 10 for INFO) into answer[0..10). Returns its length.
inline size_t handle_command(const Band& band, const uint8_t* data, size_t len, bool& streaming,
                             Settings& settings, uint8_t battery_percent, uint8_t* answer) {
  uint8_t cmd = len ? data[0] : 0;
  answer[0] = ANSWER;
  answer[1] = cmd;
  answer[2] = ST_BAD_COMMAND;
  if (cmd == CMD_START && len == 5) {
    uint16_t rate_hz = uint16_t(data[1] | (data[2] << 8));
    Settings s;
    if (streaming) answer[2] = ST_STREAMING;
    else if (!choose_rate(band, rate_hz, s.rate_index)) answer[2] = ST_BAD_RATE;
    else if (!choose_range(band, data[3], s.range_g)) answer[2] = ST_BAD_RANGE;
    else if (data[4] > 1 || (data[4] == 1 && !band.has_gyro)) answer[2] = ST_NO_GYRO;
    else {
      s.gyro = data[4] == 1;
      settings = s;
      streaming = true;
      answer[2] = ST_OK;
    }
  } else if (cmd == CMD_STOP && len == 1) {
    streaming = false;
    answer[2] = ST_OK;
  } else if (cmd == CMD_INFO && len == 1) {
    uint32_t max_mhz = band.n_rates ? band.rates_mhz[band.n_rates - 1] : 0;
    answer[2] = ST_OK;
    answer[3] = VERSION;
    put_u16(answer + 4, uint16_t(max_mhz / 1000u));
    answer[6] = band.ranges;
    answer[7] = band.has_gyro ? 1 : 0;
    answer[8] = battery_percent;
    return 9;
  }
  return 3;
}

// Maps the index of each sample taken out of an IMU FIFO to device time.
//
// The IMU samples at its own, inexact rate; the device clock is the microcontroller's. After
// every FIFO read at device time `now` that emptied the FIFO, the newest sample was taken at
// or before `now` and the next one will be taken after it. Those two facts bound the model
// s(i) = anchor_t + (i - anchor_i) x period from both sides; the period itself is the slope
// between read marks about 10 minutes apart (error ~ period / samples in the window).
class SampleClock {
 public:
  static const int N_MARKS = 64;                        // x 10 s = about 10 minutes
  static const int64_t MARK_SPACING_NS = 10000000000LL;  // 10 s
  static const uint32_t MIN_BASELINE_SAMPLES = 200;

  void start(uint32_t nominal_period_ns) {
    nominal_ = double(nominal_period_ns);
    period_ = nominal_;
    next_ = 0;
    restart();
  }

  // Samples were lost (a FIFO overrun): keep the period, re-anchor at the next read.
  void restart() {
    anchored_ = false;
    n_marks_ = 0;
    first_mark_ = 0;
  }

  // A read at device time now_ns took `count` samples: indices next_index() .. +count-1.
  void on_read(int64_t now_ns, uint32_t count) {
    if (!anchored_) {
      if (count == 0) return;
      next_ += count;
      anchor_i_ = next_ - 1;
      anchor_t_ = double(now_ns) - period_ / 2;  // the newest sample: somewhere in (now-P, now]
      anchored_ = true;
      push_mark(now_ns);
      return;
    }
    next_ += count;
    if (now_ns - marks_t_[last_mark()] >= MARK_SPACING_NS) push_mark(now_ns);
    update_period(now_ns);
    // hard bounds: newest sample <= now < next sample
    if (count) {
      double newest = time_ns_f(next_ - 1);
      if (newest > double(now_ns)) shift(double(now_ns) - newest);
    }
    double next_t = time_ns_f(next_);
    if (next_t <= double(now_ns)) shift(double(now_ns) - next_t + 1);
  }

  bool anchored() const { return anchored_; }
  uint64_t next_index() const { return next_; }
  uint32_t period_ns() const { return uint32_t(period_ + 0.5); }
  int64_t time_ns(uint64_t index) const { return int64_t(time_ns_f(index)); }

 private:
  double nominal_ = 1e7, period_ = 1e7, anchor_t_ = 0;
  uint64_t anchor_i_ = 0, next_ = 0;
  bool anchored_ = false;
  int64_t marks_t_[N_MARKS];
  uint64_t marks_i_[N_MARKS];
  int n_marks_ = 0, first_mark_ = 0;

  double time_ns_f(uint64_t index) const {
    return anchor_t_ + (double(index) - double(anchor_i_)) * period_;
  }
  void shift(double by) { anchor_t_ += by; }
  int last_mark() const { return (first_mark_ + n_marks_ - 1) % N_MARKS; }
  void push_mark(int64_t now_ns) {
    int slot;
    if (n_marks_ < N_MARKS) slot = (first_mark_ + n_marks_++) % N_MARKS;
    else { slot = first_mark_; first_mark_ = (first_mark_ + 1) % N_MARKS; }
    marks_t_[slot] = now_ns;
    marks_i_[slot] = next_;
  }
  void update_period(int64_t now_ns) {
    uint64_t n = next_ - marks_i_[first_mark_];
    if (n < MIN_BASELINE_SAMPLES) return;
    double p = double(now_ns - marks_t_[first_mark_]) / double(n);
    if (p < nominal_ * 0.9 || p > nominal_ * 1.1) return;  // not an oscillator: a stall
    // re-anchor at the newest sample so that a new slope does not move the past
    double newest = time_ns_f(next_ - 1);
    anchor_i_ = next_ - 1;
    anchor_t_ = newest;
    period_ = p;
  }
};

// Collects samples into packets. The caller adds samples in index order and takes a packet
// when full() or when it wants to send what it has (latency), and calls take() before adding
// a sample that does not follow the previous one (samples lost on the band).
class PacketBuilder {
 public:
  static const uint8_t MAX_N = 40;  // 37 fit an MTU of 247

  void begin(uint8_t capacity, bool gyro, uint16_t acc_lsb_ug, uint8_t gyro_lsb_mdps) {
    capacity_ = capacity > MAX_N ? MAX_N : capacity;
    gyro_ = gyro;
    acc_lsb_ = acc_lsb_ug;
    gyro_lsb_ = gyro_lsb_mdps;
    seq_ = 0;
    n_ = 0;
    have_prev_ = false;
  }
  void set_capacity(uint8_t capacity) { capacity_ = capacity > MAX_N ? MAX_N : capacity; }
  uint8_t size() const { return n_; }
  bool full() const { return n_ >= capacity_; }
  // True when `index` continues the samples held (or nothing is held).
  bool follows(uint64_t index) const { return n_ == 0 || index == first_ + n_; }

  void add(uint64_t index, const int16_t acc[3], const int16_t* gyro) {
    if (n_ == 0) first_ = index;
    for (int k = 0; k < 3; k++) {
      acc_[n_ * 3 + k] = acc[k];
      gyro_buf_[n_ * 3 + k] = gyro ? gyro[k] : 0;
    }
    n_++;
  }

  // Pack the samples held (times from clock) into out; returns the length, 0 when empty.
  size_t take(const SampleClock& clock, uint8_t* out, size_t cap) {
    if (n_ == 0) return 0;
    int64_t period = clock.period_ns();
    int64_t t0 = clock.time_ns(first_);
    // packets follow each other in time (spec: "Time base")
    if (have_prev_ && t0 < prev_end_ns_ + period / 2) t0 = prev_end_ns_ + period / 2;
    if (t0 < 0) t0 = 0;
    uint64_t t0_us = uint64_t(t0 / 1000);
    size_t len = pack_packet(out, cap, seq_, t0_us, uint32_t(period), acc_lsb_, gyro_lsb_, acc_,
                             gyro_ ? gyro_buf_ : 0, n_);
    if (len) {
      seq_++;
      prev_end_ns_ = int64_t(t0_us) * 1000 + (n_ - 1) * period;
      have_prev_ = true;
      n_ = 0;
    }
    return len;
  }

 private:
  uint8_t capacity_ = 1, n_ = 0, gyro_lsb_ = 0;
  bool gyro_ = false, have_prev_ = false;
  uint16_t acc_lsb_ = 122, seq_ = 0;
  uint64_t first_ = 0;
  int64_t prev_end_ns_ = 0;
  int16_t acc_[MAX_N * 3];
  int16_t gyro_buf_[MAX_N * 3];
};

// Extends a wrapping 32-bit millisecond counter (Arduino millis(), 49.7 days) to 64 bits.
// Call at least once per wrap period.
class Clock64 {
 public:
  uint64_t extend(uint32_t now) {
    if (now < last_) high_ += (uint64_t(1) << 32);
    last_ = now;
    return high_ | now;
  }

 private:
  uint64_t high_ = 0;
  uint32_t last_ = 0;
};


// The XIAO nRF52840 Sense's LSM6DS3TR-C: output rates (the FIFO runs at the same rate) and
// full scales. Rates in the order of the ODR register codes 1..8.
const uint32_t LSM6DS3_RATES_MHZ[] = {12500, 26000, 52000, 104000, 208000, 416000, 833000,
                                      1666000};
const Band LSM6DS3_BAND = {LSM6DS3_RATES_MHZ, 8, 0x0F, true};
// micro-g per LSB at 2/4/8/16 g and milli-dps per LSB at 2000 dps (datasheet sensitivities).
inline uint16_t lsm6ds3_acc_lsb_ug(uint8_t range_g) {
  return range_g == 2 ? 61 : range_g == 4 ? 122 : range_g == 8 ? 244 : 488;
}
const uint8_t LSM6DS3_GYRO_LSB_MDPS = 70;

// One service of the IMU FIFO: read its status, take every whole sample it holds, time them
// and hand each full packet to send(buf, len). With send_partial, a part-filled packet is
// sent too (so that low rates still arrive within a second or so).
//
// Imu must provide:
//   void status(bool& overrun, uint16_t& samples)   whole samples waiting, aligned to x
//   void read_sample(int16_t acc[3], int16_t gyro[3])
// After an overrun the FIFO still holds the newest samples, contiguous up to now: the packet
// in progress is sent, the clock re-anchors on them, and the time gap shows the loss.
template <class Imu, class Send>
inline void service_fifo(Imu& imu, SampleClock& clock, PacketBuilder& builder, int64_t now_ns,
                         bool with_gyro, bool send_partial, uint8_t* buf, size_t cap,
                         Send& send) {
  bool overrun = false;
  uint16_t n = 0;
  imu.status(overrun, n);
  size_t len;
  if (overrun) {
    if ((len = builder.take(clock, buf, cap)) != 0) send(buf, len);
    clock.restart();
  }
  uint64_t first = clock.next_index();
  clock.on_read(now_ns, n);
  int16_t acc[3], gyro[3];
  for (uint16_t k = 0; k < n; k++) {
    imu.read_sample(acc, gyro);
    builder.add(first + k, acc, with_gyro ? gyro : 0);
    if (builder.full() && (len = builder.take(clock, buf, cap)) != 0) send(buf, len);
  }
  if (send_partial && (len = builder.take(clock, buf, cap)) != 0) send(buf, len);
}

}  // namespace twimu

#endif  // TWIMU_PACKET_H
