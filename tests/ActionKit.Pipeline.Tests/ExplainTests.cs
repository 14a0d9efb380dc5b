using ActionKit.Data;
using ActionKit.Engine;
using ActionKit.Pipeline.Explain;
using ActionKit.Pipeline.Training;
using SixLabors.ImageSharp;

namespace ActionKit.Pipeline.Tests;

/// <summary>
/// The tiny dataset at 48x36 (the tiny network's res2 then sees 8x8 positions a frame of its 32x32 crops), and a tiny
/// model trained on it once for all explanation tests.
/// </summary>
public sealed class TinyTrainedModel : TinyDataset
{
    readonly TempFolder models = new();

    public TinyTrainedModel() : base(48, 36)
    {
        var template = Template(epochs: 3);
        template = template with { Data = template.Data with { ShortSide = 36, CropSize = 32, TestCropSize = 32 } };
        Trainer.Run(new TrainingRun(models.Path, template, Labels, Train, Val, "cpu", Workers: 1), null, default);
    }

    public string Weights => models.Combine(Trainer.ModelsFolder, TrainedModel.WeightsFileName);

    public override void Dispose()
    {
        models.Dispose();
        base.Dispose();
    }
}

public sealed class ExplainTests(TinyTrainedModel model) : IClassFixture<TinyTrainedModel>
{
    [Fact]
    public void MapsOfATinyTrainedModelPeakInsideTheActorsBoxesMoreOftenThanChance()
    {
        using var folder = new TempFolder();
        var report = Explainer.ExplainDataset(model.Weights, model.TrainRoot, folder.Path, mapsPerClass: 1, "cpu", null, default);
        var scores = report.Pointing.ToDictionary(s => s.Layer);
        Assert.Equal(["conv1", "res2", "res3", "conv5", "input"], scores.Keys);
        var atDefault = scores[Explainer.DefaultLayer];
        Assert.Equal((16, 64), (atDefault.Videos, atDefault.Frames));
        Assert.InRange(atDefault.BoxShare, 0.05, 0.3);
        Assert.True(atDefault.PeakInBox > 2 * atDefault.BoxShare,
            $"{Explainer.DefaultLayer}: peaks in the boxes in {atDefault.PeakInBox:F3} of the frames, chance {atDefault.BoxShare:F3}");
        Assert.Equal(16, Directory.GetFiles(folder.Path, "*.png").Length + Directory.GetFiles(folder.Path, "*.npy").Length);
    }

    [Fact]
    public void ExplainVideoWritesTheStripTheMapAndTheIndex()
    {
        using var folder = new TempFolder();
        string video = Path.Combine(model.ValRoot, "Video_0");
        var entry = Explainer.ExplainVideo(model.Weights, video, folder.Path, target: "move_down", device: "cpu");
        Assert.Equal(("move_up", "move_down", "gradcam", Explainer.DefaultLayer), (entry.Label, entry.Target, entry.Method, entry.Layer));
        Assert.Equal(4, entry.Frames.Length);
        Assert.NotNull(entry.Pointing);

        using (var image = Image.Load(folder.Combine(entry.Image)))
            Assert.Equal((4 * 64 + 3 * 2, 2 * 64 + 2), (image.Width, image.Height));
        var map = ReadNpy(folder.Combine(entry.Map));
        Assert.Equal("(4, 32, 32)", map.Shape);
        Assert.Equal(4 * 32 * 32, map.Values.Length);
        Assert.All(map.Values, v => Assert.True(v >= 0));
        Assert.Contains("\"target\": \"move_down\"", folder.Read(Explainer.IndexFileName));
    }

    [Fact]
    public void OneBackwardPassGivesEveryLayersMapAsSeparatePassesDo()
    {
        using var explainer = Explainer.Open(model.Weights, "cpu");
        var video = Data.Cvat.CvatDataset.ReadVideo(Path.Combine(model.ValRoot, "Video_3"));
        var view = explainer.View(Data.Loading.VideoFrames.FromCvat(video), video.Boxes);
        explainer.Forward(view);
        (SaliencyMethod, string)[] requests = [(SaliencyMethod.Gradient, "input"), .. explainer.Layers.Select(l => (SaliencyMethod.GradCam, l))];
        var together = explainer.Maps(2, requests);
        for (int i = 0; i < requests.Length; i++)
            Assert.Equal(explainer.Map(2, requests[i].Item1, requests[i].Item2).Values, together[i].Values);
    }

    [Fact]
    public void ExportedModelsAndUnknownLayersOrClassesAreRefusedWithTheReason()
    {
        using var folder = new TempFolder();
        string video = Path.Combine(model.ValRoot, "Video_0");
        string onnx = folder.Write("model.onnx", "");
        Assert.Contains("explain needs the trained weights",
            Assert.Throws<TrainingException>(() => Explainer.ExplainVideo(onnx, video, folder.Path)).Message);
        Assert.Contains("has no layer 'res5'; Grad-CAM can use conv1, res2, res3, conv5",
            Assert.Throws<TrainingException>(() => Explainer.ExplainVideo(model.Weights, video, folder.Path, layer: "res5", device: "cpu")).Message);
        Assert.Contains("has no class 'jump'",
            Assert.Throws<TrainingException>(() => Explainer.ExplainVideo(model.Weights, video, folder.Path, target: "jump", device: "cpu")).Message);
    }

    [Fact]
    public void GradCamWeighsEachChannelByItsMeanGradientAndKeepsThePositiveSum()
    {
        using var backend = new CpuBackend();
        // A [1, T=1, H=1, W=2, C=2]: positions (1, 2) and (3, -1); gradient means per channel α = (0.5, 1.5).
        using var output = backend.Allocate(1, 1, 1, 2, 2);
        output.CopyFrom([1f, 2f, 3f, -1f]);
        var map = Saliency.GradCam(output, [0f, 2f, 1f, 1f]);
        Assert.Equal((1, 1, 2), (map.Frames, map.Height, map.Width));
        Assert.Equal([0.5f * 1 + 1.5f * 2, Math.Max(0, 0.5f * 3 - 1.5f)], map.Values);
    }

    [Fact]
    public void ResizeInterpolatesBetweenSampleCentresAndClampsAtTheEdges()
    {
        var map = new SaliencyVolume(1, 1, 2, [0f, 4f]).Resize(2, 1, 4);
        // Output centres at source positions -0.25, 0.25, 0.75, 1.25; both frames alike.
        Assert.Equal([0f, 1f, 3f, 4f, 0f, 1f, 3f, 4f], map.Values);
    }

    [Fact]
    public void PointingCountsPeaksAndMassInsideTheBoxesAgainstTheirArea()
    {
        var tally = new PointingTally(SaliencyMethod.GradCam, "res2");
        // Two 4x4 frames; a box over the left half. Frame 0 peaks inside, frame 1 outside; frame 2 has no box.
        var values = new float[3 * 16];
        values[5] = 3f;
        values[6] = 1f;
        values[16 + 7] = 2f;
        values[16 + 4] = 1f;
        IReadOnlyList<BoundingBox> left = [new BoundingBox(0, 0, 2, 4)];
        tally.Add(new SaliencyVolume(3, 4, 4, values), [left, left, []]);
        var score = tally.Score();
        Assert.Equal((1, 2), (score.Videos, score.Frames));
        Assert.Equal(0.5, score.PeakInBox);
        Assert.Equal((0.75 + 1 / 3.0) / 2, score.MassInBox, 12);
        Assert.Equal(0.5, score.BoxShare);
        Assert.Equal(1.0, score.PeakRatio);
    }

    // A float32 .npy: checks the magic, version and header alignment; returns the shape text and the values.
    static (string Shape, float[] Values) ReadNpy(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0], bytes[..8]);
        int headerLength = BitConverter.ToUInt16(bytes, 8);
        Assert.Equal(0, (10 + headerLength) % 64);
        string header = System.Text.Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': ", header);
        Assert.EndsWith("\n", header);
        string shape = header[(header.IndexOf("'shape': ", StringComparison.Ordinal) + 9)..header.IndexOf(')')] + ")";
        var values = new float[(bytes.Length - 10 - headerLength) / 4];
        Buffer.BlockCopy(bytes, 10 + headerLength, values, 0, values.Length * 4);
        return (shape, values);
    }
}
