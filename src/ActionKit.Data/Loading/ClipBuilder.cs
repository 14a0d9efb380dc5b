namespace ActionKit.Data.Loading;

/// <summary>Turns one video into its preprocessed views: samples frame indices, resizes frames to the short side
/// (optionally caching them), crops, resizes, flips and normalises into a caller-owned span.</summary>
internal sealed class ClipBuilder
{
    private readonly ClipPreprocessing _preprocessing;
    private readonly ClipMode _mode;
    private readonly bool _reverseTime;
    private readonly RgbFrame?[][]? _cache;
    private readonly float[] _offset;
    private readonly float[] _scale;

    /// <summary>With <paramref name="cachedVideoLengths"/> (frame counts by video index) resized frames are kept in
    /// memory after their first use; null for no cache.</summary>
    public ClipBuilder(ClipPreprocessing preprocessing, ClipMode mode, bool reverseTime,
        IReadOnlyList<int>? cachedVideoLengths)
    {
        preprocessing.Validate();
        (_preprocessing, _mode, _reverseTime) = (preprocessing, mode, reverseTime);
        _cache = cachedVideoLengths?.Select(length => new RgbFrame?[length]).ToArray();
        _scale = [.. preprocessing.Std.Select(std => 1 / std)];
        _offset = [.. preprocessing.Mean.Select((mean, c) => -mean * _scale[c])];
        Views = preprocessing.ViewsPerVideo(mode);
        Size = preprocessing.OutputSize(mode);
        ValuesPerView = preprocessing.ClipLength * Size * Size * ClipBatch.Channels;
    }

    public int Views { get; }

    public int ClipLength => _preprocessing.ClipLength;

    public int Size { get; }

    public int ValuesPerView { get; }

    /// <summary>Writes the video's views, view after view, into <paramref name="destination"/>
    /// (Views x ValuesPerView floats). <paramref name="rng"/> drives sampling, crop and flip in training.</summary>
    public void Build(int videoIndex, VideoFrames video, Xoshiro256? rng, Span<float> destination)
    {
        ClipPreprocessing p = _preprocessing;
        int[] offsets = _mode == ClipMode.Train
            ? ClipSampler.TrainOffsets(video.Count, p.ClipLength, p.FrameInterval, p.NumClips, rng!)
            : ClipSampler.TestOffsets(video.Count, p.ClipLength, p.FrameInterval, p.NumClips);
        int[] indices = ClipSampler.FrameIndices(offsets, video.Count, p.ClipLength, p.FrameInterval);
        if (_reverseTime)
        {
            for (int k = 0; k < p.NumClips; k++)
            {
                Array.Reverse(indices, k * p.ClipLength, p.ClipLength);
            }
        }
        RgbFrame[] frames = ReadFrames(videoIndex, video, indices);
        (int width, int height) = (frames[0].Width, frames[0].Height);
        CropBox[] boxes = _mode == ClipMode.Train
            ? [FrameTransforms.RandomResizedCrop(width, height, p.AreaRange, p.AspectRatioRange, rng!)]
            : p.TestCrops == 3
                ? FrameTransforms.ThreeCrop(width, height, Size)
                : [FrameTransforms.CenterCrop(width, height, Size)];
        bool flip = _mode == ClipMode.Train && rng!.NextDouble() < p.FlipRatio;
        var resampled = new float[Size * Size * 3];
        int frameValues = Size * Size * 3;
        for (int crop = 0; crop < boxes.Length; crop++)
        {
            for (int i = 0; i < frames.Length; i++)
            {
                // Views are crop-major then clip, as mmaction2 orders them; frame i belongs to clip i / ClipLength.
                int offset = crop * frames.Length * frameValues + i * frameValues;
                FrameTransforms.Bilinear(frames[i], boxes[crop], Size, Size, resampled);
                Normalize(resampled, flip, destination.Slice(offset, frameValues));
            }
        }
    }

    // [H, W, C] pixels -> (x - mean) / std, mirrored left to right when flipping.
    private void Normalize(float[] pixels, bool flip, Span<float> output)
    {
        for (int y = 0; y < Size; y++)
        {
            for (int x = 0; x < Size; x++)
            {
                int source = (y * Size + (flip ? Size - 1 - x : x)) * 3, target = (y * Size + x) * 3;
                for (int c = 0; c < 3; c++)
                {
                    output[target + c] = pixels[source + c] * _scale[c] + _offset[c];
                }
            }
        }
    }

    // Each distinct index is decoded once (clips of short videos repeat frames); all must share one size.
    private RgbFrame[] ReadFrames(int videoIndex, VideoFrames video, int[] indices)
    {
        var decoded = new Dictionary<int, RgbFrame>();
        var frames = new RgbFrame[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            if (!decoded.TryGetValue(index, out RgbFrame? frame))
            {
                frame = ResizedFrame(videoIndex, video, index);
                decoded[index] = frame;
            }
            frames[i] = frame;
        }
        for (int i = 1; i < frames.Length; i++)
        {
            if (frames[i].Width != frames[0].Width || frames[i].Height != frames[0].Height)
            {
                throw new DatasetFormatException(video.SourceOf(indices[i]),
                    $"frame is {frames[i].Width}x{frames[i].Height} after resizing, the clip's first frame is "
                    + $"{frames[0].Width}x{frames[0].Height}");
            }
        }
        return frames;
    }

    private RgbFrame ResizedFrame(int videoIndex, VideoFrames video, int index)
    {
        RgbFrame?[]? cached = _cache?[videoIndex];
        if (cached?[index] is RgbFrame hit)
        {
            return hit;
        }
        RgbFrame frame = FrameTransforms.ResizeShortSide(video.Read(index), _preprocessing.ShortSide);
        if (cached is not null)
        {
            cached[index] = frame;
        }
        return frame;
    }
}
