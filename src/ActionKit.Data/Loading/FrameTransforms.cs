namespace ActionKit.Data.Loading;

/// <summary>A rectangle of a frame, in pixels.</summary>
internal readonly record struct CropBox(int X, int Y, int Width, int Height);

/// <summary>The spatial steps of <see cref="ClipPreprocessing"/>: short-side resize, mmaction2's crop boxes, and
/// bilinear resampling with cv2.resize(INTER_LINEAR) semantics (pixel centres aligned, edges clamped).</summary>
internal static class FrameTransforms
{
    /// <summary>mmcv's rescale_size for scale (inf, shortSide): round(side * shortSide / min(w, h)).</summary>
    public static (int Width, int Height) ShortSideSize(int width, int height, int shortSide)
    {
        double scale = shortSide / (double)Math.Min(width, height);
        return ((int)(width * scale + 0.5), (int)(height * scale + 0.5));
    }

    public static RgbFrame ResizeShortSide(RgbFrame frame, int shortSide)
    {
        (int width, int height) = ShortSideSize(frame.Width, frame.Height, shortSide);
        if (width == frame.Width && height == frame.Height)
        {
            return frame;
        }
        var resampled = new float[width * height * 3];
        Bilinear(frame, new CropBox(0, 0, frame.Width, frame.Height), width, height, resampled);
        var pixels = new byte[resampled.Length];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)Math.Clamp(MathF.Round(resampled[i]), 0, 255);
        }
        return new RgbFrame(width, height, pixels);
    }

    /// <summary>Resamples <paramref name="box"/> of the frame to outWidth x outHeight; output is interleaved RGB
    /// floats in pixel units, rows top to bottom.</summary>
    public static void Bilinear(RgbFrame source, CropBox box, int outWidth, int outHeight, Span<float> output)
    {
        var columns = new (int Left, int Right, float Weight)[outWidth];
        for (int x = 0; x < outWidth; x++)
        {
            columns[x] = SourceTaps(x, box.Width / (double)outWidth, box.X, box.Width);
        }
        byte[] pixels = source.Pixels;
        int stride = source.Width * 3;
        for (int y = 0; y < outHeight; y++)
        {
            (int top, int bottom, float wy) = SourceTaps(y, box.Height / (double)outHeight, box.Y, box.Height);
            int rowTop = top * stride, rowBottom = bottom * stride;
            for (int x = 0; x < outWidth; x++)
            {
                (int left, int right, float wx) = columns[x];
                int o = (y * outWidth + x) * 3;
                for (int c = 0; c < 3; c++)
                {
                    float upper = pixels[rowTop + left * 3 + c] * (1 - wx) + pixels[rowTop + right * 3 + c] * wx;
                    float lower = pixels[rowBottom + left * 3 + c] * (1 - wx) + pixels[rowBottom + right * 3 + c] * wx;
                    output[o + c] = upper * (1 - wy) + lower * wy;
                }
            }
        }
    }

    // The two source pixels (absolute coordinates) and the weight of the second for output pixel i.
    private static (int First, int Second, float Weight) SourceTaps(int i, double scale, int start, int length)
    {
        double position = (i + 0.5) * scale - 0.5;
        int first = (int)Math.Floor(position);
        float weight = (float)(position - first);
        if (first < 0)
        {
            (first, weight) = (0, 0);
        }
        if (first >= length - 1)
        {
            (first, weight) = (length - 1, 0);
        }
        return (start + first, start + Math.Min(first + 1, length - 1), weight);
    }

    /// <summary>mmaction2's RandomResizedCrop box: up to 10 tries of an area fraction and a log-uniform aspect
    /// ratio (width / height) that fit the frame, at a random position; else a centred square of the short side.</summary>
    public static CropBox RandomResizedCrop(int width, int height, (double Min, double Max) areaRange,
        (double Min, double Max) aspectRange, Xoshiro256 rng)
    {
        const int attempts = 10;
        double[] aspects = [.. Enumerable.Range(0, attempts)
            .Select(_ => Math.Exp(rng.Uniform(Math.Log(aspectRange.Min), Math.Log(aspectRange.Max))))];
        double[] areas = [.. Enumerable.Range(0, attempts)
            .Select(_ => rng.Uniform(areaRange.Min, areaRange.Max) * width * height)];
        for (int i = 0; i < attempts; i++)
        {
            int cropWidth = (int)Math.Round(Math.Sqrt(areas[i] * aspects[i]), MidpointRounding.ToEven);
            int cropHeight = (int)Math.Round(Math.Sqrt(areas[i] / aspects[i]), MidpointRounding.ToEven);
            if (cropWidth <= width && cropHeight <= height && cropWidth > 0 && cropHeight > 0)
            {
                int x = rng.NextIntInclusive(0, width - cropWidth);
                int y = rng.NextIntInclusive(0, height - cropHeight);
                return new CropBox(x, y, cropWidth, cropHeight);
            }
        }
        int side = Math.Min(width, height);
        return new CropBox((width - side) / 2, (height - side) / 2, side, side);
    }

    public static CropBox CenterCrop(int width, int height, int size) =>
        new((width - size) / 2, (height - size) / 2, size, size);

    /// <summary>mmaction2's ThreeCrop generalised: three squares along the long side, in its order first, last,
    /// middle (left, right, centre for landscape frames), centred across the short side.</summary>
    public static CropBox[] ThreeCrop(int width, int height, int size)
    {
        if (width >= height)
        {
            int step = (width - size) / 2, y = (height - size) / 2;
            return [new(0, y, size, size), new(2 * step, y, size, size), new(step, y, size, size)];
        }
        int vertical = (height - size) / 2, x = (width - size) / 2;
        return [new(x, 0, size, size), new(x, 2 * vertical, size, size), new(x, vertical, size, size)];
    }
}
