#include "data/vision/image_loader.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "data/fnv1a.h"
#include "data/lm_sampler.h"
#include "data/vision/batch_prefetcher.h"
#include "data/vision/vision_error.h"

namespace sigtrain::vision {

void check_normalization(const Normalization& norm, int channels, const char* what) {
  if (norm.mean.size() != static_cast<size_t>(channels) || norm.std.size() != static_cast<size_t>(channels))
    throw std::invalid_argument(std::string(what) + ": mean and std need " + std::to_string(channels) +
                                " entries (one per channel), got " + std::to_string(norm.mean.size()) + " and " +
                                std::to_string(norm.std.size()));
  for (float s : norm.std)
    if (!(s > 0)) throw std::invalid_argument(std::string(what) + ": std entries must be > 0");
}

ImageLoader::ImageLoader(std::shared_ptr<const ImageSource> source, LoaderOptions options)
    : source_(std::move(source)), options_(std::move(options)), permutations_(source_->size(), options_.seed) {
  const auto& o = options_;
  if (o.global_batch < o.world)
    throw std::invalid_argument("image loader: global batch " + std::to_string(o.global_batch) +
                                " is smaller than the world size " + std::to_string(o.world));
  if (o.micro_batch < 0) throw std::invalid_argument("image loader: micro_batch must be >= 0");
  if (o.workers < 1 || o.prefetch_batches < 1)
    throw std::invalid_argument("image loader: workers and prefetch_batches must be >= 1");
  check_normalization(o.transform.norm, o.transform.channels, "image loader");
  const data::RankSlice slice = data::rank_slice(o.global_batch, o.rank, o.world);
  slice_offset_ = slice.offset;
  slice_count_ = slice.count;
  micro_batch_ = o.micro_batch == 0 ? slice.count : std::min(o.micro_batch, slice.count);
  micro_per_step_ = (slice_count_ + micro_batch_ - 1) / micro_batch_;
}

ImageLoader::~ImageLoader() = default;

VisionBatch ImageLoader::make_batch(int64_t first_sample, int64_t count) const {
  const auto& t = options_.transform;
  const int64_t n = source_->size();
  VisionBatch b = sized_batch(first_sample, count, t.channels, t.output_size);
  const size_t per = pixels_per_image(t.channels, t.output_size);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t k = first_sample + i;
    const int64_t image = permutations_.image_of(k);
    try {
      SampleRng rng(stream_seed(options_.seed, k / n, k, RngStream::kAugment));
      train_transform(to_channels(source_->load(image), t.channels), t, rng, b.pixels.data() + per * static_cast<size_t>(i));
    } catch (const std::exception& e) {
      throw VisionError(std::string(e.what()) + " (training sample " + std::to_string(k) + ", image " +
                        std::to_string(image) + " of " + source_->describe() + ")");
    }
    b.labels.push_back(source_->label(image));
    b.image_indices.push_back(image);
  }
  if (options_.mix.enabled() && count > 0) {
    SampleRng rng(stream_seed(options_.seed, first_sample / n, first_sample, RngStream::kMix));
    mix_batch(b, source_->num_classes(), options_.mix, rng);
  }
  return b;
}

VisionBatch ImageLoader::make_sequence(int64_t sequence) const {
  const int64_t step = sequence / micro_per_step_;
  const int64_t micro = sequence % micro_per_step_;
  const int64_t first = base_sample_ + step * options_.global_batch + slice_offset_ + micro * micro_batch_;
  VisionBatch b = make_batch(first, std::min(micro_batch_, slice_count_ - micro * micro_batch_));
  b.micro_index = micro;
  b.last_in_step = micro == micro_per_step_ - 1;
  return b;
}

VisionBatch ImageLoader::next() {
  if (!prefetcher_)
    prefetcher_ = std::make_unique<BatchPrefetcher>([this](int64_t q) { return make_sequence(q); }, options_.workers,
                                                    options_.prefetch_batches);
  VisionBatch b = prefetcher_->next();
  ++returned_;
  return b;
}

int64_t ImageLoader::next_sample() const { return base_sample_ + (returned_ / micro_per_step_) * options_.global_batch; }

LoaderState ImageLoader::state() const {
  if (returned_ % micro_per_step_ != 0)
    throw std::logic_error("image loader: state() called mid-step, after micro-batch " +
                           std::to_string(returned_ % micro_per_step_) + " of " + std::to_string(micro_per_step_) +
                           "; take checkpoints between optimizer steps");
  return {next_sample(), options_.seed, source_->size(), source_->fingerprint()};
}

void ImageLoader::restore(const LoaderState& s) {
  auto mismatch = [](const std::string& what, const std::string& saved, const std::string& now) {
    throw std::runtime_error("cannot restore the image data position: " + what + " differs (checkpoint " + saved +
                             ", this run " + now + ")");
  };
  if (s.seed != options_.seed) mismatch("seed", std::to_string(s.seed), std::to_string(options_.seed));
  if (s.dataset_size != source_->size() || s.dataset_fingerprint != source_->fingerprint())
    mismatch("the training data (" + source_->describe() + ")",
             std::to_string(s.dataset_size) + " images, fingerprint " + data::hex64(s.dataset_fingerprint),
             std::to_string(source_->size()) + " images, fingerprint " + data::hex64(source_->fingerprint()));
  if (s.next_sample < 0) throw std::runtime_error("cannot restore the image data position: negative next_sample");
  prefetcher_.reset();  // joins the workers before the plan they read changes
  base_sample_ = s.next_sample;
  returned_ = 0;
}

}  // namespace sigtrain::vision
