using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ActionKit.Data;
using ActionKit.Data.Loading;
using ActionKit.Engine;
using ActionKit.Engine.Checkpoints;
using ActionKit.Engine.Layers;
using ActionKit.Engine.Models;
using ActionKit.Engine.Optimization;
using ActionKit.Pipeline.Distributed;
using ActionKit.Pipeline.Evaluation;
using ActionKit.Pipeline.Templates;

namespace ActionKit.Pipeline.Training;

/// <summary>What one training run needs: the template in force, the label names, the videos, and where to write.</summary>
/// <param name="OutputFolder">Receives models/ (weights, schema, template, last.ckpt), metrics.jsonl and curves.png.</param>
/// <param name="Template">The template in force (the workspace's template.yaml).</param>
/// <param name="Labels">Class names; a name's index is its class id.</param>
/// <param name="Train">Training videos with their class ids.</param>
/// <param name="Val">Validation videos, scored after every epoch.</param>
/// <param name="Device">auto, cpu or cuda.</param>
/// <param name="Resume">Continue from models/last.ckpt in <paramref name="OutputFolder"/> when there is one.</param>
/// <param name="Workers">Loader threads decoding and augmenting ahead of the trainer.</param>
/// <param name="Pretrained">A PyTorch X3D checkpoint to start from (the template's load_from, resolved), or null.</param>
/// <param name="Ranks">The processes of a data-parallel run (MPI); one process when null.</param>
public sealed record TrainingRun(
    string OutputFolder,
    ModelTemplate Template,
    IReadOnlyList<string> Labels,
    IReadOnlyList<LabeledVideo> Train,
    IReadOnlyList<LabeledVideo> Val,
    string Device = "auto",
    bool Resume = false,
    int Workers = 2,
    string? Pretrained = null,
    ICommunicator? Ranks = null);

/// <summary>What a finished run reports: the epochs it trained, the best validation top-1 and its epoch.</summary>
public sealed record TrainingSummary(IReadOnlyList<EpochMetrics> Epochs, double BestValTop1, int BestEpoch, bool StoppedEarly);

/// <summary>
/// The reference's <c>otx train</c>: epochs of shuffled, augmented batches with the template's optimizer, schedule,
/// warmup and gradient clipping, validation (video-wise top-1, mean class accuracy) after every epoch, the best
/// checkpoint kept, optional early stopping, and a resumable state after every epoch. Deterministic for a seed.
/// Over N ranks (<see cref="DataParallel"/>) each trains on its part of every global batch and validates its part of
/// the videos; gradients are averaged once per step and rank 0 alone writes.
/// </summary>
public static class Trainer
{
    public const string ModelsFolder = "models";
    public const string LastCheckpointFileName = "last.ckpt";
    public const string CurvesFileName = "curves.png";

    /// <summary>Training steps between read-backs of the loss and accuracy (and progress reports).</summary>
    const int LogInterval = 10;

    public static TrainingSummary Run(TrainingRun run, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var hp = run.Template.HyperParameters;
        var pretrained = run.Pretrained is { } checkpoint ? PretrainedCheckpoint.Open(checkpoint, run.Template, run.Labels.Count) : null;
        string models = Path.Combine(run.OutputFolder, ModelsFolder);
        string lastCheckpoint = Path.Combine(models, LastCheckpointFileName);
        var ranks = new DataParallel(run.Ranks ?? SingleProcess.Instance);
        ranks.Check(hp, run.Train.Count, run.Val.Count);
        if (ranks.WritesOutputs)
        {
            if (!run.Resume)
                ClearPreviousAttempt(run.OutputFolder);
            Directory.CreateDirectory(models);
            TrainedModel.SaveCompanions(models, LabelSchema.FromNames(run.Labels), run.Template);
        }
        ranks.Communicator.Barrier();

        using var backend = Devices.Create(run.Device, ranks.Communicator.LocalRank);
        using var network = new X3D(pretrained?.Config ?? ModelFactory.NetworkConfig(run.Template.Model, run.Labels.Count), backend, (ulong)hp.Seed,
            ranks.BatchStatistics(hp.SyncBn));
        if (pretrained is not null)
        {
            var report = pretrained.LoadInto(network);
            if (ranks.WritesOutputs)
                PretrainedCheckpoint.SaveReport(report, Path.Combine(models, PretrainedCheckpoint.ReportFileName));
            progress?.Report(new WorkProgress("pretrained", 1, 1, $"{report.Mapped.Count} tensors from {report.Source} ({report.Names}), "
                + $"{report.Reinitialized.Count} re-initialized; {PretrainedCheckpoint.NormalizationNote(run.Template)}"));
        }
        using var optimizer = CreateOptimizer(hp, network.Parameters);
        string where = ranks.Communicator.Size > 1 ? $"{backend.Name}, {ranks.Communicator.Size} ranks{(hp.SyncBn ? " with sync_bn" : "")}" : backend.Name;
        progress?.Report(new WorkProgress("model", 1, 1, string.Create(CultureInfo.InvariantCulture,
            $"{run.Template.Name}: X3D with {network.Parameters.TrainableCount / 1e6:F2} M parameters, {run.Labels.Count} classes, {hp.Optimizer} on {where}")));
        var preprocessing = ModelFactory.Preprocessing(run.Template.Data);
        using var trainLoader = new ClipLoader(run.Train, preprocessing, new ClipLoaderOptions
        {
            Mode = ClipMode.Train,
            BatchSize = hp.BatchSize,
            Workers = run.Workers,
            Seed = (ulong)hp.Seed,
            DropLast = run.Train.Count > hp.BatchSize,
            CacheFrames = true,
            Shard = ranks.Shard,
        });
        network.FirstBatchRow = ranks.Shard.Of(hp.BatchSize).Start.Value * trainLoader.ViewsPerVideo;
        var ownVal = run.Val.Take(ranks.Shard.Of(run.Val.Count)).ToList();
        using var valLoader = new ClipLoader(ownVal, preprocessing, new ClipLoaderOptions
        {
            Mode = ClipMode.Test,
            BatchSize = hp.BatchSize,
            Workers = run.Workers,
            CacheFrames = true,
        });
        var schedule = Schedule(hp, trainLoader.BatchesPerEpoch);
        var state = run.Resume && File.Exists(lastCheckpoint)
            ? TrainingState.Load(lastCheckpoint, hp, network, optimizer)
            : new TrainingState(hp, []);
        if (ranks.WritesOutputs)
            WriteMetrics(run.OutputFolder, state.History);

        using var loss = new SoftmaxCrossEntropy(backend, (float)hp.LabelSmoothing);
        using var clipping = new GradientClipping(network.Parameters, (float)hp.GradClip);
        using var input = new BatchInput(backend);
        using var stepMetrics = new StepMetrics(backend, LogInterval, hp.BatchSize, network.Config.NumClasses);
        long totalSteps = (long)hp.Epochs * trainLoader.BatchesPerEpoch;
        for (int epoch = state.History.Count; epoch < hp.Epochs && !state.StoppedEarly; epoch++)
        {
            var clock = Stopwatch.StartNew();
            double lossSum = 0, rate = 0;
            int correct = 0, seen = 0;
            // Reads the loss and accuracy of the steps since the last read: the one synchronization per interval.
            void ReadMetrics()
            {
                var read = stepMetrics.Read();
                if (read.Diverged is { } bad)
                    throw new TrainingException(
                        $"the loss became {bad.Loss} in epoch {epoch + 1}, step {bad.Step} (learning rate {bad.Rate:G3}); training stopped. "
                        + (state.History.Count > 0 ? $"The last good state (after epoch {state.History.Count}) is {lastCheckpoint}; " : "")
                        + "try a lower learning rate (--lr) or stronger gradient clipping.");
                lossSum += read.LossSum;
                correct += read.Correct;
                seen += read.Seen;
                progress?.Report(new WorkProgress("training", optimizer.StepCount, totalSteps,
                    string.Create(CultureInfo.InvariantCulture, $"epoch {epoch + 1}/{hp.Epochs} loss {lossSum / seen:F3} acc {correct / (double)seen:F2} {seen * ranks.Communicator.Size / clock.Elapsed.TotalSeconds:F1} clips/s")));
            }

            foreach (var batch in trainLoader.ReadEpoch(epoch, cancellationToken))
            {
                loss.Forward(network.Forward(input.Load(batch), training: true), input.Labels(batch, network.Config.NumClasses));
                stepMetrics.Add(loss, batch.Labels, optimizer.StepCount + 1, rate);
                network.Parameters.ZeroGradients();
                network.Backward(loss.Backward());
                ranks.AverageGradients(network.Parameters);
                clipping.Clip();
                rate = schedule.RateAt(optimizer.StepCount);
                optimizer.Step((float)rate);
                if (stepMetrics.Full)
                    ReadMetrics();
            }
            ReadMetrics();
            double trainSeconds = clock.Elapsed.TotalSeconds;
            double[] totals = [lossSum, correct, seen];
            ranks.Sum(totals);
            (lossSum, correct, seen) = (totals[0], (int)totals[1], (int)totals[2]);
            var probabilities = ranks.GatherScores(VideoScorer.Score(batch => network.Forward(input.Load(batch), training: false).ToArray(),
                network.Config.NumClasses, valLoader.ReadEpoch(0, cancellationToken), valLoader.BatchesPerEpoch, ownVal.Count, "validation", null),
                run.Val.Count, network.Config.NumClasses);
            var metrics = ClassificationMetrics.Compute(probabilities, [.. run.Val.Select(v => v.Label)],
                [.. run.Val.Select(v => v.Frames.Count)], run.Labels);
            var epochMetrics = new EpochMetrics(epoch + 1, lossSum / seen, correct / (double)seen, rate, metrics.Top1,
                metrics.MeanClassAccuracy, seen / trainSeconds, clock.Elapsed.TotalSeconds);
            state.History.Add(epochMetrics);
            if (!ranks.WritesOutputs)
                continue;
            if (state.BestEpoch == epoch + 1)
                ModelCheckpoint.SaveWeights(Path.Combine(models, TrainedModel.WeightsFileName), network);
            File.AppendAllText(Path.Combine(run.OutputFolder, EpochMetrics.FileName), epochMetrics.ToJsonLine() + "\n");
            state.Save(lastCheckpoint, network, optimizer);
            progress?.Report(new WorkProgress("validation", epoch + 1, hp.Epochs,
                string.Create(CultureInfo.InvariantCulture, $"epoch {epoch + 1} top-1 {metrics.Top1:F3}, mean class {metrics.MeanClassAccuracy:F3} (best {state.BestValTop1:F3} at epoch {state.BestEpoch})")));
        }
        if (ranks.WritesOutputs)
            Plots.TrainingCurves(Path.Combine(run.OutputFolder, CurvesFileName), state.History);
        return new TrainingSummary(state.History, state.BestValTop1, state.BestEpoch, state.StoppedEarly);
    }

    static IOptimizer CreateOptimizer(HyperParameters hp, ParameterStore parameters) => hp.Optimizer switch
    {
        "sgd" => new Sgd(parameters, (float)hp.Momentum, (float)hp.WeightDecay),
        "adamw" => new AdamW(parameters, (float)hp.WeightDecay),
        _ => throw new TrainingException($"optimizer '{hp.Optimizer}' is not implemented; use sgd or adamw"),
    };

    static LearningRateSchedule Schedule(HyperParameters hp, int iterationsPerEpoch) => new(
        hp.LearningRate,
        hp.Schedule == "cosine" ? ScheduleKind.Cosine : ScheduleKind.Step,
        hp.Epochs,
        iterationsPerEpoch,
        hp.WarmupEpochs,
        Milestones: hp.Schedule == "step" ? hp.LrSteps : [],
        Gamma: hp.LrGamma);

    static void WriteMetrics(string folder, IReadOnlyList<EpochMetrics> history) =>
        File.WriteAllLines(Path.Combine(folder, EpochMetrics.FileName), history.Select(m => m.ToJsonLine()));

    static void ClearPreviousAttempt(string folder)
    {
        foreach (string path in new[] { ModelsFolder, EpochMetrics.FileName, CurvesFileName }.Select(p => Path.Combine(folder, p)))
        {
            if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
            else if (File.Exists(path))
                File.Delete(path);
        }
    }

    /// <summary>
    /// Where a run stands after an epoch: the metrics so far (the best epoch and early stopping follow from them)
    /// and the dropout stream. Saved in last.ckpt with the weights and optimizer, so a resumed run ends with the same
    /// weights. The loader needs no state: each epoch's shuffle and augmentation derive from (seed, epoch, video).
    /// </summary>
    sealed class TrainingState(HyperParameters hp, List<EpochMetrics> history)
    {
        const string HistoryKey = "history", DropoutKey = "dropout_state";

        public List<EpochMetrics> History { get; } = history;

        // The first epoch with the highest val top-1.
        EpochMetrics? Best => History.MaxBy(epoch => epoch.ValTop1);

        public double BestValTop1 => Best?.ValTop1 ?? -1;
        public int BestEpoch => Best?.Epoch ?? 0;

        public bool StoppedEarly => hp.EarlyStopping && History.Count > 0 && History[^1].Epoch >= hp.EarlyStoppingStart
            && History[^1].Epoch - BestEpoch >= hp.EarlyStoppingPatience;

        public void Save(string path, X3D network, IOptimizer optimizer) =>
            ModelCheckpoint.SaveTrainingState(path, network, optimizer, new Dictionary<string, string>
            {
                [HistoryKey] = JsonSerializer.Serialize(History, EpochMetrics.Json),
                [DropoutKey] = network.DropoutRandom.State.ToString(CultureInfo.InvariantCulture),
            });

        public static TrainingState Load(string path, HyperParameters hp, X3D network, IOptimizer optimizer)
        {
            var metadata = ModelCheckpoint.LoadTrainingState(path, network, optimizer);
            if (!metadata.TryGetValue(HistoryKey, out var history) || !metadata.TryGetValue(DropoutKey, out var dropout))
                throw new CheckpointFormatException(path, "not a training checkpoint (no history or dropout state).");
            network.DropoutRandom.State = ulong.Parse(dropout, CultureInfo.InvariantCulture);
            return new TrainingState(hp, JsonSerializer.Deserialize<List<EpochMetrics>>(history, EpochMetrics.Json) ?? []);
        }
    }
}
