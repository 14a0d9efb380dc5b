using ActionKit.Data;
using ActionKit.Data.Cvat;
using ActionKit.Data.Hmdb51;
using ActionKit.Data.Loading;
using ActionKit.Data.Synthetic;
using ActionKit.Pipeline.Evaluation;
using ActionKit.Pipeline.Templates;
using ActionKit.Pipeline.Training;

namespace ActionKit.Pipeline.Tests;

/// <summary>A tiny synthetic dataset converted to CVAT once for all training tests, and a tiny X3D template.</summary>
public class TinyDataset : IDisposable
{
    readonly TempFolder folder = new();

    public TinyDataset() : this(32, 24) { }

    protected TinyDataset(int width, int height)
    {
        string hmdb = folder.Combine("hmdb");
        SyntheticDataset.Generate(hmdb, new SyntheticOptions { VideosPerClass = 3, ValVideosPerClass = 1, MinFrames = 12, MaxFrames = 16, Width = width, Height = height },
            null, CancellationToken.None);
        Hmdb51ToCvat.Convert(hmdb, 1, Hmdb51Source.Rawframes, folder.Combine("cvat"), null, CancellationToken.None);
        Labels = SyntheticDataset.ClassNames;
        Train = LabeledVideo.FromCvat(CvatDataset.Open(TrainRoot), Labels);
        Val = LabeledVideo.FromCvat(CvatDataset.Open(ValRoot), Labels);
    }

    public string TrainRoot => folder.Combine("cvat", "train");
    public string ValRoot => folder.Combine("cvat", "valid");
    public IReadOnlyList<string> Labels { get; }
    public IReadOnlyList<LabeledVideo> Train { get; }
    public IReadOnlyList<LabeledVideo> Val { get; }

    public static ModelTemplate Template(int epochs = 3, double learningRate = 0.01)
    {
        var cpu = TemplateCatalog.Embedded.Find("X3D-CPU");
        return cpu with
        {
            Model = cpu.Model with { StemWidth = 4, Widths = [4, 8], Depths = [1, 1], HeadWidth = 12, HeadHidden = 16 },
            Data = cpu.Data with { ClipLen = 4, FrameInterval = 2, ShortSide = 24, CropSize = 16, TestCropSize = 16 },
            HyperParameters = cpu.HyperParameters with { BatchSize = 4, Epochs = epochs, LearningRate = learningRate, WarmupEpochs = 1 },
        };
    }

    public virtual void Dispose() => folder.Dispose();
}

public sealed class TrainingTests(TinyDataset data) : IClassFixture<TinyDataset>
{
    TrainingSummary Train(string output, ModelTemplate template, bool resume = false, Func<WorkProgress, bool>? cancelWhen = null)
    {
        using var cancellation = new CancellationTokenSource();
        var progress = new SynchronousProgress(p =>
        {
            if (cancelWhen?.Invoke(p) == true)
                cancellation.Cancel();
        });
        return Trainer.Run(new TrainingRun(output, template, data.Labels, data.Train, data.Val, "cpu", resume, Workers: 1),
            progress, cancellation.Token);
    }

    static byte[] Weights(string output) => File.ReadAllBytes(Path.Combine(output, Trainer.ModelsFolder, TrainedModel.WeightsFileName));

    [Fact]
    public void FineTunesFromAPyTorchVideoCheckpointWithANewClassifier()
    {
        using var output = new TempFolder();
        string checkpoint = Path.Combine(ParamsLoaderTests.FindRepositoryRoot(), "tests", "ActionKit.Engine.Tests", "Fixtures", "pytorch", "pytorchvideo.zip.pth");
        var tiny = TinyDataset.Template(epochs: 1);
        var template = PretrainedCheckpoint.ForFineTuning(tiny with { Model = tiny.Model with { Widths = [4, 8, 16, 32], Depths = [1, 1, 1, 1], HeadWidth = 72 } }, checkpoint);
        using var cancellation = new CancellationTokenSource();
        Trainer.Run(new TrainingRun(output.Path, template, data.Labels, data.Train, data.Val, "cpu", Workers: 1, Pretrained: checkpoint), null, cancellation.Token);

        var report = PretrainedCheckpoint.LoadReport(output.Combine(Trainer.ModelsFolder, PretrainedCheckpoint.ReportFileName));
        Assert.Equal(["blocks.5.proj.bias", "blocks.5.proj.weight"], report.Reinitialized.Select(r => r.Key).Order());
        Assert.Equal(175, report.Mapped.Count);
        Assert.Contains(report.Notes, note => note.StartsWith("depths [2, 2, 2, 1]", StringComparison.Ordinal));
        using var model = TrainedModel.Load(output.Combine(Trainer.ModelsFolder, TrainedModel.WeightsFileName), new Engine.CpuBackend());
        Assert.Equal([2, 2, 2, 1], model.Network.Config.Depths);
        Assert.True(model.Network.Config.StrideOnlyShortcutWithoutNorm);
        Assert.Equal([114.75, 114.75, 114.75], model.Template.Data.Mean);
    }

    [Fact]
    public void WritesTheReferenceOutputsAndIsDeterministic()
    {
        using var first = new TempFolder();
        using var second = new TempFolder();
        var summary = Train(first.Path, TinyDataset.Template());
        Train(second.Path, TinyDataset.Template());

        Assert.Equal(3, summary.Epochs.Count);
        Assert.Equal(3, File.ReadAllLines(first.Combine(EpochMetrics.FileName)).Length);
        Assert.True(new FileInfo(first.Combine(Trainer.CurvesFileName)).Length > 1000);
        foreach (string file in new[] { TrainedModel.WeightsFileName, LabelSchema.FileName, "template.yaml", Trainer.LastCheckpointFileName })
            Assert.True(File.Exists(first.Combine(Trainer.ModelsFolder, file)), file);
        Assert.Equal(Weights(first.Path), Weights(second.Path));

        var firstReport = Evaluator.Evaluate(new EvaluationRequest(first.Combine(Trainer.ModelsFolder, TrainedModel.WeightsFileName), data.ValRoot, "cpu", Workers: 1), null, default);
        var secondReport = Evaluator.Evaluate(new EvaluationRequest(second.Combine(Trainer.ModelsFolder, TrainedModel.WeightsFileName), data.ValRoot, "cpu", Workers: 1), null, default);
        firstReport.Save(first.Combine("performance.json"));
        (secondReport with { Weights = firstReport.Weights }).Save(second.Combine("performance.json"));
        Assert.Equal(first.Read("performance.json"), second.Read("performance.json"));
        Assert.Equal(data.Val.Count, firstReport.Videos);
        Assert.NotNull(firstReport.TimeReversal);
        Assert.Equal(6, firstReport.TimeReversal!.Classes.Count);
    }

    [Fact]
    public void ResumingAfterAnInterruptedEpochEndsWithTheSameWeights()
    {
        using var straight = new TempFolder();
        using var interrupted = new TempFolder();
        var uninterrupted = Train(straight.Path, TinyDataset.Template());
        Assert.ThrowsAny<OperationCanceledException>(() =>
            Train(interrupted.Path, TinyDataset.Template(), cancelWhen: p => p.Description == "validation" && p.Completed == 1));
        Assert.Single(File.ReadAllLines(interrupted.Combine(EpochMetrics.FileName)));

        var resumed = Train(interrupted.Path, TinyDataset.Template(), resume: true);
        Assert.Equal(3, resumed.Epochs.Count);
        Assert.Equal(Weights(straight.Path), Weights(interrupted.Path));
        // The same losses, rates and accuracies epoch by epoch; only the timings differ.
        static EpochMetrics WithoutTimings(EpochMetrics epoch) => epoch with { TrainClipsPerSecond = 0, EpochSeconds = 0 };
        Assert.Equal(uninterrupted.Epochs.Select(WithoutTimings), resumed.Epochs.Select(WithoutTimings));
    }

    [Fact]
    public void AFrameTruncatedMidTrainingFailsNamingItAndTheLastCheckpointResumes()
    {
        using var copy = new TempFolder();
        foreach (string file in Directory.EnumerateFiles(data.TrainRoot, "*", SearchOption.AllDirectories))
        {
            string target = copy.Combine("train", Path.GetRelativePath(data.TrainRoot, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var train = LabeledVideo.FromCvat(CvatDataset.Open(copy.Combine("train")), data.Labels);
        string[] frames = Directory.GetFiles(copy.Combine("train"), "*.jpg", SearchOption.AllDirectories);
        var originals = frames.ToDictionary(frame => frame, File.ReadAllBytes);
        TrainingSummary Run(string output, bool resume, Func<WorkProgress, bool>? afterReport = null) => Trainer.Run(
            new TrainingRun(output, TinyDataset.Template(), data.Labels, train, data.Val, "cpu", resume, Workers: 2),
            new SynchronousProgress(p => afterReport?.Invoke(p)), CancellationToken.None);

        using var straight = new TempFolder();
        Run(straight.Path, resume: false);

        // After the first epoch every training frame loses its second half: the frames epoch 2 reads that epoch 1 did
        // not (those are cached) no longer decode.
        using var output = new TempFolder();
        var error = Assert.Throws<DatasetFormatException>(() => Run(output.Path, resume: false, p =>
        {
            if (p.Description == "validation" && p.Completed == 1)
            {
                foreach (string frame in frames)
                    File.WriteAllBytes(frame, originals[frame][..(originals[frame].Length / 2)]);
            }
            return false;
        }));
        Assert.Contains(error.FilePath, frames);
        Assert.Equal($"{error.FilePath}: truncated JPEG (expected the end-of-image marker FF D9 at the end)", error.Message);
        Assert.Single(File.ReadAllLines(output.Combine(EpochMetrics.FileName)));

        foreach (string frame in frames)
            File.WriteAllBytes(frame, originals[frame]);
        var resumed = Run(output.Path, resume: true);
        Assert.Equal(3, resumed.Epochs.Count);
        Assert.Equal(Weights(straight.Path), Weights(output.Path));
    }

    [Fact]
    public void EarlyStoppingEndsTheFirstEpochThatIsPatienceEpochsPastTheBest()
    {
        using var output = new TempFolder();
        var template = TinyDataset.Template(epochs: 6, learningRate: 1e-12);
        template = template with
        {
            HyperParameters = template.HyperParameters with { EarlyStopping = true, EarlyStoppingStart = 2, EarlyStoppingPatience = 1 },
        };
        var summary = Train(output.Path, template);

        // With a learning rate of 1e-12 the validation accuracy cannot keep rising for six epochs.
        Assert.True(summary.StoppedEarly);
        Assert.InRange(summary.Epochs.Count, 2, 5);
        int Best(int epochs) => summary.Epochs.Take(epochs).MaxBy(e => e.ValTop1)!.Epoch;
        Assert.Equal(summary.Epochs.Count - 1, Best(summary.Epochs.Count));
        Assert.All(Enumerable.Range(2, summary.Epochs.Count - 2), epochs => Assert.Equal(epochs, Best(epochs)));
        Assert.Equal(summary.Epochs.Count, File.ReadAllLines(output.Combine(EpochMetrics.FileName)).Length);
    }

    [Fact]
    public void ADivergingLossStopsWithAClearMessage()
    {
        using var output = new TempFolder();
        var error = Assert.Throws<TrainingException>(() => Train(output.Path, TinyDataset.Template(epochs: 2, learningRate: 1e30)));
        Assert.Contains("the loss became", error.Message);
        Assert.Contains("lower learning rate", error.Message);
    }

    [Fact]
    public void EvaluationRejectsMismatchedLabelsMissingWeightsAndEmptyRoots()
    {
        using var output = new TempFolder();
        Train(output.Path, TinyDataset.Template(epochs: 1));
        string weights = output.Combine(Trainer.ModelsFolder, TrainedModel.WeightsFileName);

        LabelSchema.FromNames(["a", "b", "c", "d", "e", "f", "g", "h"]).Save(output.Combine(Trainer.ModelsFolder, LabelSchema.FileName));
        var mismatch = Assert.Throws<TrainingException>(() => Evaluator.Evaluate(new EvaluationRequest(weights, data.ValRoot, "cpu"), null, default));
        Assert.Contains("not among the model's classes", mismatch.Message);

        var missing = Assert.Throws<TrainingException>(() => Evaluator.Evaluate(new EvaluationRequest(output.Combine("nope.safetensors"), data.ValRoot, "cpu"), null, default));
        Assert.Contains("nope.safetensors", missing.Message);

        LabelSchema.FromNames(data.Labels).Save(output.Combine(Trainer.ModelsFolder, LabelSchema.FileName));
        string empty = Directory.CreateDirectory(output.Combine("empty")).FullName;
        var error = Assert.Throws<DatasetFormatException>(() => Evaluator.Evaluate(new EvaluationRequest(weights, empty, "cpu"), null, default));
        Assert.Contains(empty, error.Message);
    }

    [Fact]
    public void PredictRanksEveryClassOfOneVideo()
    {
        using var output = new TempFolder();
        Train(output.Path, TinyDataset.Template(epochs: 1));
        var predictions = Predictor.Predict(output.Combine(Trainer.ModelsFolder, TrainedModel.WeightsFileName), data.Val[0].Frames.Name, "cpu", 5, out string runtime);
        Assert.Equal("ActionKit engine (cpu)", runtime);
        Assert.Equal(5, predictions.Count);
        Assert.True(predictions.Zip(predictions.Skip(1)).All(p => p.First.Probability >= p.Second.Probability));
        Assert.All(predictions, p => Assert.Contains(p.Label, data.Labels));
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool, too late to cancel at a point).</summary>
    sealed class SynchronousProgress(Action<WorkProgress> report) : IProgress<WorkProgress>
    {
        public void Report(WorkProgress value) => report(value);
    }
}

public sealed class ClassificationMetricsTests
{
    [Fact]
    public void FrameWiseAccuracyWeighsLongVideosMore()
    {
        // Video 0 (100 frames) right, videos 1 and 2 (10 frames each) wrong: video-wise 1/3, frame-wise 100/120.
        double[][] probabilities = [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.2, 0.3]];
        var metrics = ClassificationMetrics.Compute(probabilities, [0, 0, 2], [100, 10, 10], ["a", "b", "c"]);
        Assert.Equal(1 / 3.0, metrics.Top1, 9);
        Assert.Equal(100 / 120.0, metrics.FrameAccuracy, 9);
        Assert.Equal(1.0, metrics.Top5, 9);
        Assert.Equal((0.5 + 0.0) / 2, metrics.MeanClassAccuracy, 9); // class b has no videos
        Assert.Equal([[1, 1, 0], [0, 0, 0], [1, 0, 0]], metrics.Confusion);
        Assert.Equal(0.5, metrics.PerClass[0].Precision, 9);
        Assert.Equal(0.0, metrics.PerClass[1].Precision, 9);
        Assert.Equal(120, metrics.Frames);
    }

    [Fact]
    public void TopFiveCountsALabelRankedFifth()
    {
        double[][] probabilities = [[0.3, 0.25, 0.2, 0.1, 0.08, 0.07]];
        Assert.Equal(1.0, ClassificationMetrics.Compute(probabilities, [4], [5], ["a", "b", "c", "d", "e", "f"]).Top5);
        Assert.Equal(0.0, ClassificationMetrics.Compute(probabilities, [5], [5], ["a", "b", "c", "d", "e", "f"]).Top5);
    }
}
