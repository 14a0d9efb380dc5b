namespace ActionKit.Pipeline.Parameters;

/// <summary>Range checks of <see cref="PipelineParams"/>, each reported with the dotted key it concerns.</summary>
public static class ParamsValidation
{
    /// <summary>The problems of <paramref name="values"/>, as (dotted key, what is wrong); empty when all is well.</summary>
    public static IEnumerable<(string Key, string Problem)> Problems(PipelineParams values)
    {
        // The same bounds as the synthetic generator's, reported here with the key and line.
        var synth = values.Synth;
        if (synth.VideosPerClass < 2)
            yield return ("synth.videos_per_class", $"must be at least 2, got {synth.VideosPerClass}");
        if (synth.ValVideosPerClass < 1 || synth.ValVideosPerClass >= synth.VideosPerClass)
            yield return ("synth.val_videos_per_class", $"must be between 1 and videos_per_class - 1, got {synth.ValVideosPerClass}");
        if (synth.MinFrames < 2)
            yield return ("synth.min_frames", $"must be at least 2, got {synth.MinFrames}");
        if (synth.MaxFrames < synth.MinFrames)
            yield return ("synth.max_frames", $"must be at least min_frames ({synth.MinFrames}), got {synth.MaxFrames}");
        if (synth.Width < 16)
            yield return ("synth.width", $"must be at least 16, got {synth.Width}");
        if (synth.Height < 16)
            yield return ("synth.height", $"must be at least 16, got {synth.Height}");
        if (string.IsNullOrWhiteSpace(values.Data.Root))
            yield return ("data.root", "must name a folder");
        if (values.Data.Split is < 1 or > 3)
            yield return ("data.split", $"must be 1, 2 or 3, got {values.Data.Split}");
        if (string.IsNullOrWhiteSpace(values.Template))
            yield return ("template", "must name a template (see `actionkit find`)");
        if (values.Train.Epochs is < 1)
            yield return ("train.epochs", MustBePositive(values.Train.Epochs.Value));
        if (values.Train.BatchSize is < 1)
            yield return ("train.batch_size", MustBePositive(values.Train.BatchSize.Value));
        if (values.Train.LearningRate is { } rate && !(rate > 0))
            yield return ("train.learning_rate", $"must be positive, got {rate}");
        if (values.Eval.Clips is < 1)
            yield return ("eval.clips", MustBePositive(values.Eval.Clips.Value));
        if (values.Eval.Crops is not (1 or 3))
            yield return ("eval.crops", $"must be 1 or 3, got {values.Eval.Crops}");
        if (values.Eval.Explain < 0)
            yield return ("eval.explain", $"must be 0 or more, got {values.Eval.Explain}");
        if (values.Optimize.SubsetSize < 1)
            yield return ("optimize.subset_size", MustBePositive(values.Optimize.SubsetSize));
        if (values.Optimize.MaxDrop is { } drop && !(drop >= 0 && drop < 1))
            yield return ("optimize.max_drop", $"must be a fraction in [0, 1) (0.005 = half a top-1 point), got {drop}");
    }

    private static string MustBePositive(int value) => $"must be positive, got {value}";
}
