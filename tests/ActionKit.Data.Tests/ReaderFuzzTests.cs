using System.Text;
using ActionKit.Data.Cvat;
using ActionKit.Data.Hmdb51;
using ActionKit.Fuzzing;

namespace ActionKit.Data.Tests;

/// <summary>The fuzz corpus of the dataset readers: split files, label maps, CVAT annotations, JPEG frames, videos.</summary>
[Trait("Category", "Fuzz")]
public sealed class ReaderFuzzTests
{
    private static readonly string[] ClassNames = ["brush_hair", "cartwheel", "catch", "chew", "clap", "climb", "dive", "draw_sword"];

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    [Theory]
    [InlineData(Hmdb51Source.Rawframes)]
    [InlineData(Hmdb51Source.Videos)]
    public void SplitFiles(Hmdb51Source source)
    {
        string Line(int i) => source == Hmdb51Source.Rawframes
            ? $"{ClassNames[i % 8]}/{ClassNames[i % 8]}_v{i:D2}_c01 {24 + i} {i % 8}"
            : $"{ClassNames[i % 8]}/{ClassNames[i % 8]}_v{i:D2}_c01.avi {i % 8}";
        new FuzzCorpus<DatasetFormatException>($"split file ({source})", "split.txt")
        {
            Seeds = [Utf8(string.Join("\n", Enumerable.Range(0, 12).Select(Line)) + "\n"), Utf8("# comment\n\n" + Line(3) + "\n")],
            Mutations = Mutations.Text,
            Read = (path, _) => Hmdb51SplitFile.Read(path, source, ClassNames.Length),
        }.Run(1000);
    }

    [Fact]
    public void LabelMaps() => new FuzzCorpus<DatasetFormatException>("label map", "label_map.txt")
    {
        Seeds = [Utf8(string.Join("\n", ClassNames) + "\n"), Utf8("a\nb\r\nc")],
        Mutations = Mutations.Text,
        Read = (path, _) => Hmdb51LabelMap.Read(path),
    }.Run(1000);

    [Fact]
    public void CvatAnnotationFiles()
    {
        string Annotations(int frames, int width, int height)
        {
            string file = Path.Combine(Path.GetTempPath(), $"actionkit-seed-{Guid.NewGuid():N}.xml");
            CvatAnnotations.Write(file, new CvatAnnotation(3, "chew_v03_c01", "chew", width, height,
                [.. Enumerable.Range(0, frames).Select(CvatAnnotations.FrameFileName)]));
            string text = File.ReadAllText(file);
            File.Delete(file);
            return text;
        }
        new FuzzCorpus<DatasetFormatException>("CVAT annotations.xml", CvatAnnotations.FileName)
        {
            Seeds = [Utf8(Annotations(3, 96, 72)), Utf8(Annotations(1, 161, 121))],
            Mutations = Mutations.Text,
            // The frames the annotations list must exist beside them.
            Setup = folder =>
            {
                Directory.CreateDirectory(Path.Combine(folder, CvatAnnotations.ImagesFolder));
                for (int i = 0; i < 3; i++)
                {
                    JpegFrames.Encode(FrameCodecTests.Ramp(8, 8, i), Path.Combine(folder, CvatAnnotations.ImagesFolder, CvatAnnotations.FrameFileName(i)));
                }
            },
            Read = (path, _) => CvatDataset.ReadVideo(Path.GetDirectoryName(path)!),
        }.Run(1000);
    }

    [Fact]
    public void JpegFrameFiles()
    {
        byte[] Jpeg(int width, int height, int quality)
        {
            string file = Path.Combine(Path.GetTempPath(), $"actionkit-seed-{Guid.NewGuid():N}.jpg");
            JpegFrames.Encode(FrameCodecTests.Ramp(width, height, 1), file, quality);
            byte[] bytes = File.ReadAllBytes(file);
            File.Delete(file);
            return bytes;
        }
        new FuzzCorpus<DatasetFormatException>("JPEG frame", "img_00001.jpg")
        {
            Seeds = [Jpeg(96, 72, 90), Jpeg(161, 121, 75), Jpeg(16, 16, 100)],
            Mutations = [.. Mutations.Binary, HugeJpegDimensions],
            Read = (path, _) => JpegFrames.Decode(path),
        }.Run(1500);
    }

    /// <summary>Declares 60000 x 60000 pixels (or another huge size) in the JPEG's start-of-frame header.</summary>
    private static readonly Mutation HugeJpegDimensions = new("huge declared dimensions", (bytes, random) =>
    {
        byte[] copy = (byte[])bytes.Clone();
        for (int i = 2; i + 9 < copy.Length; i++)
        {
            // SOF0..SOF2 markers: FF C0-C2, length (2), precision (1), height (2), width (2).
            if (copy[i] == 0xFF && copy[i + 1] is >= 0xC0 and <= 0xC2)
            {
                ushort[] sizes = [60000, 65535, 30000, 8193];
                ushort height = sizes[random.Next(sizes.Length)], width = sizes[random.Next(sizes.Length)];
                (copy[i + 5], copy[i + 6], copy[i + 7], copy[i + 8]) = ((byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width);
                break;
            }
        }
        return copy;
    });
}

/// <summary>The fuzz corpus of the video reader (it runs ffmpeg, so it shares the ffmpeg collection).</summary>
[Trait("Category", "Fuzz")]
[Collection(FfmpegCollection.Name)]
public sealed class VideoFuzzTests
{
    [Fact]
    public void VideoFileReads()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"actionkit-seed-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        byte[][] seeds;
        try
        {
            string mjpeg = Path.Combine(folder, "ours.avi");
            VideoFiles.Encode([.. Enumerable.Range(0, 6).Select(i => FrameCodecTests.Ramp(48, 36, i))], mjpeg);
            seeds = [File.ReadAllBytes(mjpeg), File.ReadAllBytes(VideoDecodingTests.MakeVideo(Path.Combine(folder, "mpeg4.avi"), "161x121", 8))];
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
        new FuzzCorpus<DatasetFormatException>(".avi video", "video.avi")
        {
            Seeds = seeds,
            Mutations = Mutations.Binary,
            Read = (path, token) => VideoFiles.Decode(path, token),
            TimeBound = TimeSpan.FromSeconds(60),
            // Decoded frames legitimately outgrow a compressed file; the decoder's own cap bounds them.
            Allowance = size => (64L << 20) + 1024 * size,
        }.Run(30);
    }
}
