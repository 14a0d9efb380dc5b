using System.Text;
using ActionKit.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing.Processors.Quantization;

namespace ActionKit.Pipeline.Explain;

/// <summary>
/// What an explanation leaves on disk: a PNG strip, the clip's frames on top and the same frames with the map blended
/// over them below, actor boxes outlined where known; and the map itself as a NumPy .npy file for tools.
/// </summary>
public static class ExplanationFiles
{
    const int Gap = 2;

    /// <summary>
    /// Writes the strip: <paramref name="pixels"/> is the clip [T, S, S, 3] in pixel units (0-255), the map is at the
    /// clip's resolution and is scaled by its largest value over the clip (so quiet frames look quiet); each frame is
    /// drawn <paramref name="zoom"/> times larger.
    /// </summary>
    public static void WriteStrip(string path, float[] pixels, SaliencyVolume map, IReadOnlyList<IReadOnlyList<BoundingBox>>? boxes, int zoom = 2)
    {
        int size = map.Width, cell = size * zoom, frames = map.Frames;
        float peak = map.Values.Max();
        using var image = new Image<Rgb24>(frames * (cell + Gap) - Gap, 2 * cell + Gap, new Rgb24(255, 255, 255));
        for (int t = 0; t < frames; t++)
        {
            var values = map.Frame(t);
            for (int y = 0; y < cell; y++)
            {
                for (int x = 0; x < cell; x++)
                {
                    int source = (y / zoom) * size + x / zoom, offset = (t * size * size + source) * 3;
                    var frame = new Rgb24(Byte(pixels[offset]), Byte(pixels[offset + 1]), Byte(pixels[offset + 2]));
                    float heat = peak > 0 ? values[source] / peak : 0;
                    int left = t * (cell + Gap) + x;
                    image[left, y] = frame;
                    image[left, cell + Gap + y] = Blend(frame, heat);
                }
            }
            if (boxes is not null)
                foreach (var box in boxes[t])
                    Outline(image, box, t * (cell + Gap), cell + Gap, zoom, cell);
        }
        // A 256-colour palette keeps a strip at tens of KB; the frames' pixel noise defeats PNG's filters otherwise.
        image.SaveAsPng(path, new PngEncoder
        {
            ColorType = PngColorType.Palette,
            Quantizer = new WuQuantizer(new QuantizerOptions { Dither = null }),
            CompressionLevel = PngCompressionLevel.BestCompression,
        });
    }

    /// <summary>Writes the map as a float32 .npy array of shape (frames, height, width) (NumPy format 1.0, little-endian).</summary>
    public static void WriteNpy(string path, SaliencyVolume map)
    {
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({map.Frames}, {map.Height}, {map.Width}), }}";
        // Magic, version, header length, then the header padded with spaces and a newline to a multiple of 64 bytes.
        int unpadded = 6 + 2 + 2 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - unpadded % 64) % 64) + "\n";
        using var file = File.Create(path);
        using var writer = new BinaryWriter(file);
        writer.Write((byte)0x93);
        writer.Write("NUMPY"u8);
        writer.Write((byte)1);
        writer.Write((byte)0);
        writer.Write((ushort)header.Length);
        writer.Write(Encoding.ASCII.GetBytes(header));
        foreach (float value in map.Values)
            writer.Write(value);
    }

    static byte Byte(float value) => (byte)Math.Clamp(MathF.Round(value), 0, 255);

    // The frame with a heat colour laid over it, more opaque where the map is stronger.
    static Rgb24 Blend(Rgb24 frame, float heat)
    {
        var (r, g, b) = HeatColour(heat);
        float alpha = 0.7f * heat;
        return new Rgb24(
            (byte)(frame.R + (r - frame.R) * alpha),
            (byte)(frame.G + (g - frame.G) * alpha),
            (byte)(frame.B + (b - frame.B) * alpha));
    }

    // 0 -> blue, 1/3 -> cyan, 2/3 -> yellow, 1 -> red.
    static (float R, float G, float B) HeatColour(float v)
    {
        v = Math.Clamp(v, 0, 1) * 3;
        return v < 1 ? (0, 255 * v, 255) : v < 2 ? (255 * (v - 1), 255, 255 * (2 - v)) : (255, 255 * (3 - v), 0);
    }

    // A one-pixel white rectangle around a box given in frame pixels, inside the cell at (left, top).
    static void Outline(Image<Rgb24> image, BoundingBox box, int left, int top, int zoom, int cell)
    {
        int x0 = Math.Clamp((int)Math.Round(box.Left * zoom), 0, cell - 1), x1 = Math.Clamp((int)Math.Round(box.Right * zoom) - 1, 0, cell - 1);
        int y0 = Math.Clamp((int)Math.Round(box.Top * zoom), 0, cell - 1), y1 = Math.Clamp((int)Math.Round(box.Bottom * zoom) - 1, 0, cell - 1);
        var white = new Rgb24(255, 255, 255);
        for (int x = x0; x <= x1; x++)
            (image[left + x, top + y0], image[left + x, top + y1]) = (white, white);
        for (int y = y0; y <= y1; y++)
            (image[left + x0, top + y], image[left + x1, top + y]) = (white, white);
    }
}
