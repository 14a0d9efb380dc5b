using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Templates;

namespace ActionKit.Pipeline.Tests;

public sealed class TemplateCatalogTests : IDisposable
{
    private const string Base = """
        id: Base_Id
        name: Base
        task: action_classification
        model: { architecture: x3d, stem_width: 24, widths: [24, 48], depths: [1, 2], bottleneck_factor: 2.25, se_ratio: 0.0625,
                 se_every: 2, head_width: 432, head_hidden: 2048, dropout: 0.5, bn_eps: 1.0e-5, bn_momentum: 0.1 }
        data: { clip_len: 8, frame_interval: 4, num_clips: 1, short_side: 256, crop_size: 224, test_crop_size: 224,
                area_range: [0.08, 1.0], aspect_ratio_range: [0.75, 1.33], flip_ratio: 0.5, mean: [0, 0, 0], std: [255, 255, 255] }
        hyper_parameters: { batch_size: 8, epochs: 10, optimizer: adamw, learning_rate: 0.001, weight_decay: 0.0001, momentum: 0.9,
                            warmup_epochs: 3, schedule: step, lr_steps: [5, 8], lr_gamma: 0.1, grad_clip: 40, label_smoothing: 0,
                            seed: 2, early_stopping: false, early_stopping_start: 3, early_stopping_patience: 10 }
        """;

    private readonly TempFolder root = new();

    public void Dispose() => root.Dispose();

    [Fact]
    public void Every_embedded_template_resolves_and_validates()
    {
        var catalog = TemplateCatalog.Embedded;
        Assert.Equal(5, catalog.Sources.Count);
        foreach (var source in catalog.Sources)
            Assert.Equal(source.Id, catalog.Find(source.Id).Id);
    }

    [Theory]
    [InlineData("X3D-CPU")]
    [InlineData("x3d-cpu")]
    [InlineData("Custom_Action_Classification_X3D_CPU")]
    [InlineData("custom_action_classification_x3d_cpu")]
    public void Templates_are_found_by_id_or_name_ignoring_case(string reference)
    {
        Assert.Equal("Custom_Action_Classification_X3D_CPU", TemplateCatalog.Embedded.Find(reference).Id);
    }

    [Fact]
    public void Inheritance_deep_merges_over_the_base()
    {
        var cpu = TemplateCatalog.Embedded.Find("X3D-CPU");
        var x3d = TemplateCatalog.Embedded.Find("X3D");
        Assert.Equal(x3d.Model.Widths, cpu.Model.Widths);
        Assert.Equal(56, cpu.Data.CropSize);
        Assert.Equal(x3d.Data.Mean, cpu.Data.Mean);
        Assert.Equal("cosine", cpu.HyperParameters.Schedule);
        Assert.Equal(x3d.HyperParameters.Optimizer, cpu.HyperParameters.Optimizer);
        Assert.Equal("X3D-CPU", cpu.Name);
    }

    [Fact]
    public void Unknown_template_lists_the_known_names()
    {
        var error = Assert.Throws<TemplateException>(() => TemplateCatalog.Embedded.Find("X3D-XL"));
        Assert.Contains("no such template; known: X3D", error.Message);
    }

    [Theory]
    [InlineData("hyper_parameters: { optimizer: lamb }", "hyper_parameters.optimizer must be one of sgd, adam, adamw, got 'lamb'")]
    [InlineData("data: { crop_size: 0 }", "data.crop_size must be positive, got 0")]
    [InlineData("model: { depths: [1] }", "model.depths must list 2 positive stage depths")]
    [InlineData("hyper_parameters: { schedule: linear }", "hyper_parameters.schedule must be one of constant, step, cosine")]
    public void Invalid_values_name_the_template_file_and_key(string change, string message)
    {
        var catalog = Catalog(("base.yaml", Base), ("child.yaml", $"id: Child_Id\nname: Child\ninherits: Base_Id\n{change}\n"));
        var error = Assert.Throws<TemplateException>(() => catalog.Find("Child"));
        Assert.Equal("child.yaml", error.Template);
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData("id: C\nname: C\ninherits: Base_Id\ndata:\n  crop: 3\n", 5, "unknown key 'crop' in data")]
    [InlineData("id: C\nname: C\ninherits: Base_Id\ndata:\n  crop_size: big\n", 5, "big")]
    [InlineData("id: C\nname: C\ninherits: Base_Id\ndata: [\n", 5, "")]
    public void Malformed_template_files_name_the_file_and_line(string text, int line, string message)
    {
        var error = Assert.Throws<TemplateException>(() => TemplateSource.Parse("custom.yaml", text));
        Assert.Equal(("custom.yaml", line), (error.Template, error.Line));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Inheritance_errors_are_reported()
    {
        var missing = Catalog(("a.yaml", "id: A\nname: A\ninherits: Nowhere\n"));
        Assert.Contains("inherits unknown template 'Nowhere'", Assert.Throws<TemplateException>(() => missing.Find("A")).Message);
        var cycle = Catalog(("a.yaml", "id: A\nname: A\ninherits: B\n"), ("b.yaml", "id: B\nname: B\ninherits: A\n"));
        Assert.Contains("inheritance cycle: A -> B -> A", Assert.Throws<TemplateException>(() => cycle.Find("A")).Message);
    }

    [Fact]
    public void A_user_template_file_may_inherit_an_embedded_one()
    {
        string path = root.Write("mine.yaml", "id: Mine\nname: Mine\ninherits: Custom_Action_Classification_X3D_CPU\nhyper_parameters:\n  epochs: 3\n");
        var template = TemplateCatalog.Embedded.LoadFile(path);
        Assert.Equal((3, 56), (template.HyperParameters.Epochs, template.Data.CropSize));
    }

    [Fact]
    public void Train_overrides_apply_to_hyper_parameters_and_are_validated()
    {
        var template = TemplateCatalog.Embedded.Find("X3D-CPU");
        var overridden = TemplateCatalog.ApplyOverrides(template, new TrainParams { Epochs = 2, LearningRate = 0.01 });
        Assert.Equal((2, 0.01, template.HyperParameters.BatchSize), (overridden.HyperParameters.Epochs, overridden.HyperParameters.LearningRate, overridden.HyperParameters.BatchSize));
        Assert.Equal(template.HyperParameters, TemplateCatalog.ApplyOverrides(template, new TrainParams()).HyperParameters);
    }

    private static TemplateCatalog Catalog(params (string Path, string Text)[] files) =>
        new(files.Select(file => TemplateSource.Parse(file.Path, file.Text)));
}
