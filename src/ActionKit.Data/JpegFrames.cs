using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace ActionKit.Data;

/// <summary>Decodes and encodes JPEG frames with ImageSharp. Decoding is strict: a file that is missing, not a
/// JPEG, truncated (no end-of-image marker) or corrupt fails with a <see cref="DatasetFormatException"/> naming it.</summary>
public static class JpegFrames
{
    public const int DefaultQuality = 90;

    // Callers already run one frame per thread, so ImageSharp's own parallelism would only oversubscribe.
    private static readonly Configuration SingleThreaded = CreateConfiguration();

    /// <summary>The largest frame side decoded; a JPEG declaring more is refused before its pixels are decoded.</summary>
    public const int MaxSide = 8192;

    public static RgbFrame Decode(string path)
    {
        byte[] bytes = ReadJpegBytes(path);
        try
        {
            // The header alone gives the size: a small file declaring 60000 x 60000 pixels is refused, not decoded.
            using var header = new MemoryStream(bytes, writable: false);
            IImageInfo info = Image.Identify(SingleThreaded, header)
                              ?? throw new DatasetFormatException(path, "corrupt JPEG: no image header");
            if (info.Width > MaxSide || info.Height > MaxSide)
            {
                throw new DatasetFormatException(path, $"JPEG declares {info.Width}x{info.Height} pixels, more than {MaxSide} on a side");
            }
            using Image<Rgb24> image = Image.Load<Rgb24>(SingleThreaded, bytes);
            var frame = new RgbFrame(image.Width, image.Height, new byte[image.Width * image.Height * 3]);
            image.CopyPixelDataTo(frame.Pixels);
            return frame;
        }
        catch (Exception error) when (error is not (OutOfMemoryException or DatasetFormatException))
        {
            throw new DatasetFormatException(path, $"corrupt JPEG: {error.Message}", error);
        }
    }

    public static void Encode(RgbFrame frame, string path, int quality = DefaultQuality)
    {
        using Image<Rgb24> image = Image.LoadPixelData<Rgb24>(SingleThreaded, frame.Pixels, frame.Width, frame.Height);
        image.SaveAsJpeg(path, new JpegEncoder { Quality = quality });
    }

    // ImageSharp decodes a truncated file partially without complaint, so the markers are checked here:
    // start of image FF D8 first, end of image FF D9 last (trailing zero padding allowed).
    private static byte[] ReadJpegBytes(string path)
    {
        if (!File.Exists(path))
        {
            throw new DatasetFormatException(path, "frame file not found");
        }
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8)
        {
            throw new DatasetFormatException(path, "not a JPEG file (expected the start-of-image marker FF D8)");
        }
        int end = bytes.Length;
        while (end > 2 && bytes[end - 1] == 0)
        {
            end--;
        }
        if (bytes[end - 2] != 0xFF || bytes[end - 1] != 0xD9)
        {
            throw new DatasetFormatException(path, "truncated JPEG (expected the end-of-image marker FF D9 at the end)");
        }
        return bytes;
    }

    private static Configuration CreateConfiguration()
    {
        Configuration configuration = Configuration.Default.Clone();
        configuration.MaxDegreeOfParallelism = 1;
        return configuration;
    }
}
