using ActionKit.Data.Loading;
using ActionKit.Engine.Models;
using ActionKit.Pipeline.Templates;

namespace ActionKit.Pipeline.Training;

/// <summary>Turns a template's sections into the engine's network configuration and the data pipeline's preprocessing.</summary>
public static class ModelFactory
{
    public static X3DConfig NetworkConfig(TemplateModel model, int numClasses) => new()
    {
        NumClasses = numClasses,
        StemWidth = model.StemWidth,
        Widths = model.Widths,
        Depths = model.Depths,
        BottleneckFactor = model.BottleneckFactor,
        SeRatio = model.SeRatio,
        SeEvery = model.SeEvery,
        HeadWidth = model.HeadWidth,
        HeadHidden = model.HeadHidden,
        Dropout = (float)model.Dropout,
        BatchNormEpsilon = (float)model.BnEps,
        BatchNormMomentum = (float)model.BnMomentum,
    };

    /// <summary>The one preprocessing definition of a template, with evaluation's multi-view options.</summary>
    public static ClipPreprocessing Preprocessing(TemplateData data, int? testClips = null, int testCrops = 1)
    {
        var preprocessing = new ClipPreprocessing(
            data.ClipLen,
            data.FrameInterval,
            testClips ?? data.NumClips,
            data.ShortSide,
            data.CropSize,
            data.TestCropSize,
            (data.AreaRange[0], data.AreaRange[1]),
            (data.AspectRatioRange[0], data.AspectRatioRange[1]),
            data.FlipRatio,
            [.. data.Mean.Select(v => (float)v)],
            [.. data.Std.Select(v => (float)v)],
            testCrops);
        preprocessing.Validate();
        return preprocessing;
    }
}
