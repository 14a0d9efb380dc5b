namespace ActionKit.Pipeline.Templates;

/// <summary>Value checks of a resolved <see cref="ModelTemplate"/>, each reported with the dotted key it concerns.</summary>
public static class TemplateValidation
{
    /// <summary>The problems of <paramref name="template"/>, as (dotted key, what is wrong); empty when all is well.</summary>
    public static IEnumerable<(string Key, string Problem)> Problems(ModelTemplate template)
    {
        // A bare "data:" (or a section whose keys were all removed) reads as null, not as its base's values.
        foreach (var (key, section) in new (string, object?)[] { ("model", template.Model), ("data", template.Data), ("hyper_parameters", template.HyperParameters) })
        {
            if (section is null)
            {
                yield return (key, "is empty; give its keys or leave it out");
                yield break;
            }
        }
        foreach (var (key, value) in new[] { ("id", template.Id), ("name", template.Name), ("task", template.Task) })
        {
            if (string.IsNullOrWhiteSpace(value))
                yield return (key, "is missing");
        }
        foreach (var problem in ModelProblems(template.Model))
            yield return ($"model.{problem.Key}", problem.Problem);
        foreach (var problem in DataProblems(template.Data))
            yield return ($"data.{problem.Key}", problem.Problem);
        foreach (var problem in HyperParameterProblems(template.HyperParameters))
            yield return ($"hyper_parameters.{problem.Key}", problem.Problem);
    }

    private static IEnumerable<(string Key, string Problem)> ModelProblems(TemplateModel model)
    {
        if (model.Architecture != "x3d")
            yield return ("architecture", $"must be x3d, got '{model.Architecture}'");
        foreach (var (key, value) in new[] { ("stem_width", model.StemWidth), ("se_every", model.SeEvery), ("head_width", model.HeadWidth), ("head_hidden", model.HeadHidden) })
        {
            if (value < 1)
                yield return (key, $"must be positive, got {value}");
        }
        int[] widths = model.Widths ?? [], depths = model.Depths ?? [];
        if (widths.Length == 0 || widths.Any(w => w < 1))
            yield return ("widths", "must list positive stage widths");
        if (depths.Length != widths.Length || depths.Any(d => d < 1))
            yield return ("depths", $"must list {widths.Length} positive stage depths, one per width");
        if (!(model.BottleneckFactor > 0))
            yield return ("bottleneck_factor", $"must be positive, got {model.BottleneckFactor}");
        if (model.SeRatio is < 0 or > 1)
            yield return ("se_ratio", $"must be in [0, 1], got {model.SeRatio}");
        if (model.Dropout is < 0 or >= 1)
            yield return ("dropout", $"must be in [0, 1), got {model.Dropout}");
        if (!(model.BnEps > 0))
            yield return ("bn_eps", $"must be positive, got {model.BnEps}");
        if (model.BnMomentum is <= 0 or > 1)
            yield return ("bn_momentum", $"must be in (0, 1], got {model.BnMomentum}");
    }

    private static IEnumerable<(string Key, string Problem)> DataProblems(TemplateData data)
    {
        foreach (var (key, value) in new[] { ("clip_len", data.ClipLen), ("frame_interval", data.FrameInterval), ("num_clips", data.NumClips), ("short_side", data.ShortSide), ("crop_size", data.CropSize), ("test_crop_size", data.TestCropSize) })
        {
            if (value < 1)
                yield return (key, $"must be positive, got {value}");
        }
        if (data.CropSize > data.ShortSide || data.TestCropSize > data.ShortSide)
            yield return ("crop_size", $"crops ({data.CropSize}, test {data.TestCropSize}) must fit in short_side ({data.ShortSide})");
        if (data.AreaRange is not [> 0 and var low, var high] || high < low || high > 1)
            yield return ("area_range", "must be [low, high] with 0 < low <= high <= 1");
        if (data.AspectRatioRange is not [> 0 and var narrow, var wide] || wide < narrow)
            yield return ("aspect_ratio_range", "must be [low, high] with 0 < low <= high");
        if (data.FlipRatio is < 0 or > 1)
            yield return ("flip_ratio", $"must be in [0, 1], got {data.FlipRatio}");
        if (data.Mean is not { Length: 3 })
            yield return ("mean", "must list 3 values (R, G, B)");
        if (data.Std is not { Length: 3 } || data.Std.Any(s => !(s > 0)))
            yield return ("std", "must list 3 positive values (R, G, B)");
    }

    private static IEnumerable<(string Key, string Problem)> HyperParameterProblems(HyperParameters hp)
    {
        foreach (var (key, value) in new[] { ("batch_size", hp.BatchSize), ("epochs", hp.Epochs) })
        {
            if (value < 1)
                yield return (key, $"must be positive, got {value}");
        }
        if (!HyperParameters.KnownOptimizers.Contains(hp.Optimizer))
            yield return ("optimizer", $"must be one of {string.Join(", ", HyperParameters.KnownOptimizers)}, got '{hp.Optimizer}'");
        if (!HyperParameters.KnownSchedules.Contains(hp.Schedule))
            yield return ("schedule", $"must be one of {string.Join(", ", HyperParameters.KnownSchedules)}, got '{hp.Schedule}'");
        if (!(hp.LearningRate > 0))
            yield return ("learning_rate", $"must be positive, got {hp.LearningRate}");
        var nonNegative = new[]
        {
            ("weight_decay", hp.WeightDecay), ("momentum", hp.Momentum), ("warmup_epochs", hp.WarmupEpochs), ("grad_clip", hp.GradClip),
            ("label_smoothing", hp.LabelSmoothing), ("early_stopping_start", hp.EarlyStoppingStart), ("early_stopping_patience", hp.EarlyStoppingPatience),
        };
        foreach (var (key, value) in nonNegative)
        {
            if (value < 0)
                yield return (key, $"must not be negative, got {value}");
        }
        if (hp.LrSteps is null || hp.LrSteps.Any(step => step < 1) || !hp.LrSteps.SequenceEqual(hp.LrSteps.Order()))
            yield return ("lr_steps", "must list positive epochs in increasing order");
        if (hp.LrGamma is <= 0 or > 1)
            yield return ("lr_gamma", $"must be in (0, 1], got {hp.LrGamma}");
    }
}
