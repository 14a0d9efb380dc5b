namespace ActionKit.Pipeline.Parameters;

/// <summary>Range checks of <see cref="PipelineParams"/>, each reported with the dotted key it concerns.</summary>
public static class ParamsValidation
{
    /// <summary>The problems of <paramref name="values"/>, as (dotted key, what is wrong); empty when all is well.</summary>
    public static IEnumerable<(string Key, string Problem)> Problems(PipelineParams values)
    {
        var synth = values.Synth;
        if (synth.VideosPerClass < 1)
            yield return ("synth.videos_per_class", MustBePositive(synth.VideosPerClass));
        if (synth.ValVideosPerClass < 1)
            yield return ("synth.val_videos_per_class", MustBePositive(synth.ValVideosPerClass));
        if (synth.MinFrames < 1)
            yield return ("synth.min_frames", MustBePositive(synth.MinFrames));
        if (synth.MaxFrames < synth.MinFrames)
            yield return ("synth.max_frames", $"must be at least min_frames ({synth.MinFrames}), got {synth.MaxFrames}");
        if (synth.Width < 1)
            yield return ("synth.width", MustBePositive(synth.Width));
        if (synth.Height < 1)
            yield return ("synth.height", MustBePositive(synth.Height));
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
    }

    private static string MustBePositive(int value) => $"must be positive, got {value}";
}
