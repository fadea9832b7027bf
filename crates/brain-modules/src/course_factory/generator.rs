//! Where a course's content comes from: the [`CourseGenerator`] extension point and the built-in
//! [`TemplateGenerator`].
//!
//! The service asks a generator for the outline, each full lesson's Markdown, the quiz and the landing
//! page, checks each against the model's bounds (CF-B3..B5) and only then writes anything: a generator
//! that breaks a bound makes the generation fail cleanly with `course.generation.failed` (the original's
//! outline generator broke them on every call, CF-F1).
//!
//! The template generator is deterministic: the same request gives the same texts, structure and
//! durations (a seed is derived from the request, never from the clock or a random source). Only the ids
//! differ between two generations, because they derive from the new course id ([`derived_id`]).

use std::fmt::Debug;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::model::{
    Audience, CourseLandingPage, CourseLesson, CourseMetadata, CourseModule, CourseOutline, CourseQuiz, Language, LessonStatus,
    QuizQuestion,
};

/// A generator failed (not a bound violation: those are checked by the service).
#[derive(Debug, thiserror::Error)]
#[error("the course generator failed while generating the {stage}")]
pub struct GeneratorError {
    /// `outline`, `lesson`, `quiz` or `landing_page`.
    pub stage: &'static str,
    /// Why.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Produces a course's content. Held as `Arc<dyn CourseGenerator>` in
/// [`ModulesConfig::course_generator`](crate::ModulesConfig::course_generator).
///
/// Contract:
/// - every call may be slow (a language model) and runs before the service opens a transaction;
/// - the outline's lessons carry their module's `module_id`, its totals are the sums of its modules, and
///   the first `full_lessons_count` lessons in course order are `full`, the rest `placeholder`;
/// - the service checks every result against the model's bounds; a result that breaks one, or an `Err`,
///   makes the generation fail with `course.generation.failed` and nothing else is stored but the failure;
/// - ids should come from [`derived_id`] of the metadata's `course_id`, so they are unique per course.
#[async_trait]
pub trait CourseGenerator: Send + Sync + Debug {
    /// The generator's name (shown by `/info`).
    fn name(&self) -> &'static str;

    /// The outline of the course `meta` describes.
    ///
    /// # Errors
    /// [`GeneratorError`] with stage `outline`.
    async fn outline(&self, meta: &CourseMetadata) -> Result<CourseOutline, GeneratorError>;

    /// The Markdown content of one full lesson.
    ///
    /// # Errors
    /// [`GeneratorError`] with stage `lesson`.
    async fn lesson_content(&self, outline: &CourseOutline, module: &CourseModule, lesson: &CourseLesson)
    -> Result<String, GeneratorError>;

    /// The quiz (10 to 15 questions).
    ///
    /// # Errors
    /// [`GeneratorError`] with stage `quiz`.
    async fn quiz(&self, outline: &CourseOutline) -> Result<CourseQuiz, GeneratorError>;

    /// The landing page.
    ///
    /// # Errors
    /// [`GeneratorError`] with stage `landing_page`.
    async fn landing_page(&self, outline: &CourseOutline, quiz: Option<&CourseQuiz>) -> Result<CourseLandingPage, GeneratorError>;
}

/// A stable id for a part of a course: `{kind}_` and 16 hex characters of SHA-256 of the course id and
/// the part's path (`m2/l3`).
pub fn derived_id(course_id: &str, kind: &str, path: &str) -> String {
    let digest = Sha256::digest(format!("{course_id}/{kind}/{path}").as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{kind}_{hex}")
}

/// The template id of the original's banking outline.
pub const BANKING_TEMPLATE: &str = "banking-alternatives-de";

/// The template the title selects: [`BANKING_TEMPLATE`] when it mentions "Banken", "Banking" or
/// "Sparkassen" (CF-B8 step 1).
pub fn template_for(title: &str) -> Option<&'static str> {
    ["Banken", "Banking", "Sparkassen"].iter().any(|w| title.contains(w)).then_some(BANKING_TEMPLATE)
}

/// A deterministic source of choices, derived from the request's content.
#[derive(Debug, Clone)]
struct Seed([u8; 32]);

impl Seed {
    fn of(meta: &CourseMetadata) -> Self {
        let audiences: Vec<&str> = meta.target_audiences.iter().map(|a| a.as_str()).collect();
        let text = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{:?}",
            meta.title,
            meta.description,
            meta.language.as_str(),
            audiences.join(","),
            meta.full_lessons_count,
            meta.template_id
        );
        Seed(Sha256::digest(text.as_bytes()).into())
    }

    /// A number in `0..n` for the choice named `label`.
    fn pick(&self, label: &str, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let mut h = Sha256::new();
        h.update(self.0);
        h.update(label.as_bytes());
        let d = h.finalize();
        let mut v = [0u8; 8];
        v.copy_from_slice(&d[..8]);
        (u64::from_le_bytes(v) % n as u64) as usize
    }
}

/// The texts of one language.
struct Phrases {
    topics: [&'static str; 8],
    aspects: [&'static str; 6],
    module_description: &'static str,
    module_objective: &'static str,
    lesson_description: &'static str,
    lesson_objective: &'static str,
    headings: [&'static str; 6],
    intro: &'static str,
    key_point: &'static str,
    example: &'static str,
    exercise: &'static str,
    summary: &'static str,
    quiz_title: &'static str,
    quiz_description: &'static str,
    question: &'static str,
    wrong: [&'static str; 3],
    explanation: &'static str,
    cta: &'static str,
    value: &'static str,
    for_whom: &'static str,
    not_for_whom: &'static str,
    not_for_whom_items: [&'static str; 2],
    structure: &'static str,
    features: [&'static str; 5],
    disclaimer: &'static str,
    audiences: [&'static str; 9],
}

const EN: Phrases = Phrases {
    topics: [
        "Foundations",
        "Key concepts",
        "Planning your approach",
        "Practical application",
        "Common pitfalls",
        "Tools and resources",
        "Case studies",
        "Next steps",
    ],
    aspects: ["Overview", "Core ideas", "A worked example", "Practice", "Checklist", "Reflection"],
    module_description: "Module {n} of \"{course}\": {topic}.",
    module_objective: "Explain the essentials of {topic}",
    lesson_description: "{aspect} for the topic \"{topic}\".",
    lesson_objective: "Apply {aspect} to {topic}",
    headings: ["Learning objectives", "Introduction", "Key points", "Example", "Exercise", "Summary"],
    intro: "This lesson belongs to the course \"{course}\" and is written for {audience}. It covers {topic}: {aspect}.",
    key_point: "Point {n}: what {topic} means for your own situation, step {n}.",
    example: "An example: a participant applies {topic} to a real decision and writes down the result.",
    exercise: "Write down three questions about {topic} and answer them with what you learned.",
    summary: "You now know the essentials of {topic} and can take the next step.",
    quiz_title: "Final quiz: {course}",
    quiz_description: "Check what you learned in the {n} modules of the course.",
    question: "Which statement fits the module \"{module}\"?",
    wrong: ["It is not covered by this course", "It only matters for specialists", "It can safely be ignored"],
    explanation: "The module \"{module}\" is about this: {objective}.",
    cta: "Start the course now",
    value: "{modules} modules, {lessons} lessons, about {minutes} minutes of learning at your own pace.",
    for_whom: "Who this course is for",
    not_for_whom: "Who this course is not for",
    not_for_whom_items: ["People looking for individual advice", "People looking for product recommendations"],
    structure: "How the course is structured",
    features: [
        "{modules} modules with {lessons} lessons",
        "About {minutes} minutes of learning",
        "Self-paced, at any time",
        "Practical examples and exercises",
        "Final quiz with {questions} questions",
    ],
    disclaimer: "This course provides general information and is no substitute for individual professional advice.",
    audiences: [
        "Private individuals",
        "Employees",
        "Career starters",
        "Small business owners",
        "Retirees",
        "Self-employed people",
        "Students",
        "Parents",
        "Migrants and expats",
    ],
};

const DE: Phrases = Phrases {
    topics: [
        "Grundlagen",
        "Wichtige Begriffe",
        "Das eigene Vorgehen planen",
        "Praktische Umsetzung",
        "Typische Fehler",
        "Werkzeuge und Quellen",
        "Fallbeispiele",
        "Nächste Schritte",
    ],
    aspects: ["Überblick", "Kernideen", "Ein durchgerechnetes Beispiel", "Übung", "Checkliste", "Reflexion"],
    module_description: "Modul {n} von \"{course}\": {topic}.",
    module_objective: "Das Wesentliche zu {topic} erklären",
    lesson_description: "{aspect} zum Thema \"{topic}\".",
    lesson_objective: "{aspect} auf {topic} anwenden",
    headings: ["Lernziele", "Einführung", "Kernpunkte", "Beispiel", "Übung", "Zusammenfassung"],
    intro: "Diese Lektion gehört zum Kurs \"{course}\" und richtet sich an {audience}. Sie behandelt {topic}: {aspect}.",
    key_point: "Punkt {n}: was {topic} für die eigene Situation bedeutet, Schritt {n}.",
    example: "Ein Beispiel: Eine Teilnehmerin wendet {topic} auf eine echte Entscheidung an und notiert das Ergebnis.",
    exercise: "Schreiben Sie drei Fragen zu {topic} auf und beantworten Sie sie mit dem Gelernten.",
    summary: "Sie kennen jetzt das Wesentliche zu {topic} und können den nächsten Schritt gehen.",
    quiz_title: "Abschlussquiz: {course}",
    quiz_description: "Prüfen Sie, was Sie in den {n} Modulen des Kurses gelernt haben.",
    question: "Welche Aussage passt zum Modul \"{module}\"?",
    wrong: ["Das behandelt dieser Kurs nicht", "Das ist nur für Fachleute wichtig", "Das kann man getrost ignorieren"],
    explanation: "Im Modul \"{module}\" geht es darum: {objective}.",
    cta: "Jetzt mit dem Kurs beginnen",
    value: "{modules} Module, {lessons} Lektionen, etwa {minutes} Minuten Lernzeit im eigenen Tempo.",
    for_whom: "Für wen dieser Kurs ist",
    not_for_whom: "Für wen dieser Kurs nicht ist",
    not_for_whom_items: ["Wer eine individuelle Beratung sucht", "Wer Produktempfehlungen sucht"],
    structure: "So ist der Kurs aufgebaut",
    features: [
        "{modules} Module mit {lessons} Lektionen",
        "Etwa {minutes} Minuten Lernzeit",
        "Im eigenen Tempo, jederzeit",
        "Praxisbeispiele und Übungen",
        "Abschlussquiz mit {questions} Fragen",
    ],
    disclaimer: "Dieser Kurs vermittelt allgemeine Informationen und ersetzt keine individuelle fachliche Beratung.",
    audiences: [
        "Privatpersonen",
        "Angestellte",
        "Berufseinsteiger",
        "Kleinunternehmer",
        "Rentner",
        "Selbstständige",
        "Studierende",
        "Eltern",
        "Zugewanderte und Expats",
    ],
};

const FR: Phrases = Phrases {
    topics: [
        "Les bases",
        "Notions clés",
        "Planifier sa démarche",
        "Mise en pratique",
        "Erreurs fréquentes",
        "Outils et ressources",
        "Études de cas",
        "Prochaines étapes",
    ],
    aspects: ["Vue d'ensemble", "Idées essentielles", "Un exemple détaillé", "Exercice", "Liste de contrôle", "Réflexion"],
    module_description: "Module {n} de « {course} » : {topic}.",
    module_objective: "Expliquer l'essentiel de {topic}",
    lesson_description: "{aspect} sur le thème « {topic} ».",
    lesson_objective: "Appliquer {aspect} à {topic}",
    headings: ["Objectifs", "Introduction", "Points clés", "Exemple", "Exercice", "Résumé"],
    intro: "Cette leçon fait partie du cours « {course} » et s'adresse à : {audience}. Elle traite de {topic} : {aspect}.",
    key_point: "Point {n} : ce que {topic} signifie pour votre situation, étape {n}.",
    example: "Un exemple : une participante applique {topic} à une vraie décision et note le résultat.",
    exercise: "Notez trois questions sur {topic} et répondez-y avec ce que vous avez appris.",
    summary: "Vous connaissez maintenant l'essentiel de {topic} et pouvez passer à l'étape suivante.",
    quiz_title: "Quiz final : {course}",
    quiz_description: "Vérifiez ce que vous avez appris dans les {n} modules du cours.",
    question: "Quelle affirmation correspond au module « {module} » ?",
    wrong: ["Ce cours ne le traite pas", "Cela ne concerne que les spécialistes", "On peut l'ignorer sans risque"],
    explanation: "Le module « {module} » porte sur ceci : {objective}.",
    cta: "Commencer le cours",
    value: "{modules} modules, {lessons} leçons, environ {minutes} minutes d'apprentissage à votre rythme.",
    for_whom: "À qui s'adresse ce cours",
    not_for_whom: "À qui ce cours ne s'adresse pas",
    not_for_whom_items: [
        "Aux personnes qui cherchent un conseil individuel",
        "Aux personnes qui cherchent des recommandations de produits",
    ],
    structure: "Structure du cours",
    features: [
        "{modules} modules et {lessons} leçons",
        "Environ {minutes} minutes d'apprentissage",
        "À votre rythme, à tout moment",
        "Exemples pratiques et exercices",
        "Quiz final de {questions} questions",
    ],
    disclaimer: "Ce cours fournit des informations générales et ne remplace pas un conseil professionnel individuel.",
    audiences: [
        "Particuliers",
        "Salariés",
        "Jeunes actifs",
        "Dirigeants de PME",
        "Retraités",
        "Indépendants",
        "Étudiants",
        "Parents",
        "Migrants et expatriés",
    ],
};

const ES: Phrases = Phrases {
    topics: [
        "Fundamentos",
        "Conceptos clave",
        "Planificar el enfoque",
        "Aplicación práctica",
        "Errores frecuentes",
        "Herramientas y recursos",
        "Casos prácticos",
        "Próximos pasos",
    ],
    aspects: ["Visión general", "Ideas centrales", "Un ejemplo desarrollado", "Práctica", "Lista de control", "Reflexión"],
    module_description: "Módulo {n} de «{course}»: {topic}.",
    module_objective: "Explicar lo esencial de {topic}",
    lesson_description: "{aspect} sobre el tema «{topic}».",
    lesson_objective: "Aplicar {aspect} a {topic}",
    headings: ["Objetivos", "Introducción", "Puntos clave", "Ejemplo", "Ejercicio", "Resumen"],
    intro: "Esta lección forma parte del curso «{course}» y está pensada para: {audience}. Trata {topic}: {aspect}.",
    key_point: "Punto {n}: qué significa {topic} para su situación, paso {n}.",
    example: "Un ejemplo: una participante aplica {topic} a una decisión real y anota el resultado.",
    exercise: "Escriba tres preguntas sobre {topic} y respóndalas con lo aprendido.",
    summary: "Ahora conoce lo esencial de {topic} y puede dar el siguiente paso.",
    quiz_title: "Cuestionario final: {course}",
    quiz_description: "Compruebe lo que aprendió en los {n} módulos del curso.",
    question: "¿Qué afirmación corresponde al módulo «{module}»?",
    wrong: ["Este curso no lo trata", "Solo importa a especialistas", "Se puede ignorar sin problema"],
    explanation: "El módulo «{module}» trata de esto: {objective}.",
    cta: "Empezar el curso ahora",
    value: "{modules} módulos, {lessons} lecciones, unos {minutes} minutos de aprendizaje a su ritmo.",
    for_whom: "Para quién es este curso",
    not_for_whom: "Para quién no es este curso",
    not_for_whom_items: ["Quien busca asesoramiento individual", "Quien busca recomendaciones de productos"],
    structure: "Cómo está estructurado el curso",
    features: [
        "{modules} módulos con {lessons} lecciones",
        "Unos {minutes} minutos de aprendizaje",
        "A su ritmo, en cualquier momento",
        "Ejemplos prácticos y ejercicios",
        "Cuestionario final de {questions} preguntas",
    ],
    disclaimer: "Este curso ofrece información general y no sustituye el asesoramiento profesional individual.",
    audiences: [
        "Particulares",
        "Empleados",
        "Personas que inician su carrera",
        "Empresarios de pymes",
        "Jubilados",
        "Autónomos",
        "Estudiantes",
        "Padres",
        "Migrantes y expatriados",
    ],
};

/// The module topics of the banking template (German, as the original's template).
const BANKING_TOPICS: [&str; 6] = [
    "Wie Banken und Sparkassen arbeiten",
    "Alternativen zum klassischen Girokonto",
    "Sparen und Anlegen ohne Filialbank",
    "Digitale Zahlungswege",
    "Sicherheit und Einlagensicherung",
    "Der Wechsel Schritt für Schritt",
];

fn phrases(language: Language) -> &'static Phrases {
    match language {
        Language::En => &EN,
        Language::De => &DE,
        Language::Fr => &FR,
        Language::Es => &ES,
    }
}

fn audience_name(p: &Phrases, a: Audience) -> &'static str {
    let i = match a {
        Audience::PrivateIndividuals => 0,
        Audience::Employees => 1,
        Audience::CareerStarters => 2,
        Audience::SmeEntrepreneurs => 3,
        Audience::Retirees => 4,
        Audience::SelfEmployed => 5,
        Audience::Students => 6,
        Audience::Parents => 7,
        Audience::MigrantsExpats => 8,
    };
    p.audiences[i]
}

/// Fills `{key}` placeholders.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// The built-in generator: structured texts from per-language templates, chosen deterministically from
/// the request (4 to 6 modules of 3 to 5 lessons of 10 to 30 minutes, a 15-question quiz, a landing page
/// of 7 sections).
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateGenerator;

/// Questions of the template quiz.
const QUESTIONS: usize = 15;

impl TemplateGenerator {
    fn topics(meta: &CourseMetadata, seed: &Seed, n: usize) -> Vec<String> {
        if meta.template_id.as_deref() == Some(BANKING_TEMPLATE) {
            return BANKING_TOPICS.iter().take(n).map(|t| (*t).to_owned()).collect();
        }
        let p = phrases(meta.language);
        // The first topic opens, the last closes; the middle ones are a seeded choice of the other six.
        let mut middle: Vec<&str> = p.topics[1..7].to_vec();
        let mut chosen = Vec::with_capacity(n);
        chosen.push(p.topics[0]);
        for i in 0..n.saturating_sub(2) {
            let k = seed.pick(&format!("topic{i}"), middle.len());
            chosen.push(middle.remove(k));
        }
        chosen.push(p.topics[7]);
        chosen.into_iter().map(str::to_owned).collect()
    }
}

#[async_trait]
impl CourseGenerator for TemplateGenerator {
    fn name(&self) -> &'static str {
        "template"
    }

    async fn outline(&self, meta: &CourseMetadata) -> Result<CourseOutline, GeneratorError> {
        let seed = Seed::of(meta);
        let p = phrases(meta.language);
        let module_count = 4 + seed.pick("modules", 3);
        let topics = Self::topics(meta, &seed, module_count);
        let mut modules = Vec::with_capacity(module_count);
        let mut position = 0u32;
        for (mi, topic) in topics.iter().enumerate() {
            let module_id = derived_id(&meta.course_id, "mod", &format!("m{}", mi + 1));
            let lesson_count = 3 + seed.pick(&format!("lessons{mi}"), 3);
            let mut lessons = Vec::with_capacity(lesson_count);
            for li in 0..lesson_count {
                let aspect = p.aspects[(li + seed.pick(&format!("aspect{mi}"), 6)) % 6];
                let minutes = 10 + 5 * u32::try_from(seed.pick(&format!("minutes{mi}.{li}"), 5)).unwrap_or(0);
                position += 1;
                let full = position <= meta.full_lessons_count;
                let vars = [("aspect", aspect), ("topic", topic.as_str())];
                lessons.push(CourseLesson {
                    lesson_id: derived_id(&meta.course_id, "les", &format!("m{}/l{}", mi + 1, li + 1)),
                    module_id: module_id.clone(),
                    title: format!("{topic}: {aspect}"),
                    description: fill(p.lesson_description, &vars),
                    learning_objectives: vec![fill(p.lesson_objective, &vars)],
                    estimated_duration_minutes: minutes,
                    status: if full { LessonStatus::Full } else { LessonStatus::Placeholder },
                    content_markdown: None,
                    content_outline: Some(p.headings.iter().map(|h| (*h).to_owned()).collect()),
                    examples: vec![fill(p.example, &vars)],
                    exercises: vec![fill(p.exercise, &vars)],
                    keywords: vec![topic.to_lowercase(), aspect.to_lowercase()],
                    order_index: u32::try_from(li).unwrap_or(0),
                });
            }
            let n = (mi + 1).to_string();
            let vars = [("n", n.as_str()), ("course", meta.title.as_str()), ("topic", topic.as_str())];
            modules.push(CourseModule {
                module_id,
                title: topic.clone(),
                description: fill(p.module_description, &vars),
                learning_objectives: vec![fill(p.module_objective, &vars)],
                estimated_total_duration_minutes: lessons.iter().map(|l| l.estimated_duration_minutes).sum(),
                lessons,
                order_index: u32::try_from(mi).unwrap_or(0),
            });
        }
        let (total_lessons, total_minutes) = CourseOutline::totals(&modules);
        Ok(CourseOutline { metadata: meta.clone(), modules, total_lessons, total_estimated_duration_minutes: total_minutes })
    }

    async fn lesson_content(
        &self,
        outline: &CourseOutline,
        module: &CourseModule,
        lesson: &CourseLesson,
    ) -> Result<String, GeneratorError> {
        let meta = &outline.metadata;
        let p = phrases(meta.language);
        let audience: Vec<&str> = meta.target_audiences.iter().map(|a| audience_name(p, *a)).collect();
        let audience = audience.join(", ");
        let aspect = lesson.title.rsplit(": ").next().unwrap_or(&lesson.title);
        let vars = [("course", meta.title.as_str()), ("audience", audience.as_str()), ("topic", module.title.as_str()), ("aspect", aspect)];
        let mut md = format!("# {}\n\n*{} · {} min*\n\n", lesson.title, module.title, lesson.estimated_duration_minutes);
        md.push_str(&format!("## {}\n\n", p.headings[0]));
        for o in &lesson.learning_objectives {
            md.push_str(&format!("- {o}\n"));
        }
        md.push_str(&format!("\n## {}\n\n{}\n\n## {}\n\n", p.headings[1], fill(p.intro, &vars), p.headings[2]));
        for n in 1..=3 {
            let n = n.to_string();
            md.push_str(&format!("{n}. {}\n", fill(p.key_point, &[("n", n.as_str()), ("topic", module.title.as_str())])));
        }
        md.push_str(&format!("\n## {}\n\n{}\n\n", p.headings[3], fill(p.example, &vars)));
        md.push_str(&format!("## {}\n\n{}\n\n", p.headings[4], fill(p.exercise, &vars)));
        md.push_str(&format!("## {}\n\n{}\n", p.headings[5], fill(p.summary, &vars)));
        Ok(md)
    }

    async fn quiz(&self, outline: &CourseOutline) -> Result<CourseQuiz, GeneratorError> {
        let meta = &outline.metadata;
        let seed = Seed::of(meta);
        let p = phrases(meta.language);
        let n = outline.modules.len().to_string();
        let mut questions = Vec::with_capacity(QUESTIONS);
        for i in 0..QUESTIONS {
            let Some(module) = outline.modules.get(i % outline.modules.len().max(1)) else { break };
            let objective = module.learning_objectives.first().cloned().unwrap_or_else(|| module.description.clone());
            let correct = seed.pick(&format!("answer{i}"), 4);
            let mut options: Vec<String> = p.wrong.iter().map(|w| (*w).to_owned()).collect();
            options.insert(correct, objective.clone());
            let vars = [("module", module.title.as_str()), ("objective", objective.as_str())];
            questions.push(QuizQuestion {
                question_id: derived_id(&meta.course_id, "q", &format!("q{}", i + 1)),
                question_text: fill(p.question, &vars),
                option_a: options[0].clone(),
                option_b: options[1].clone(),
                option_c: options[2].clone(),
                option_d: options[3].clone(),
                correct_answer: ["a", "b", "c", "d"][correct].to_owned(),
                explanation: fill(p.explanation, &vars),
                difficulty: ["easy", "medium", "hard"][i % 3].to_owned(),
                module_reference: Some(module.module_id.clone()),
            });
        }
        Ok(CourseQuiz {
            quiz_id: derived_id(&meta.course_id, "quiz", "final"),
            title: fill(p.quiz_title, &[("course", meta.title.as_str())]),
            description: fill(p.quiz_description, &[("n", n.as_str())]),
            questions,
            passing_score_percentage: 70,
            time_limit_minutes: Some(20),
        })
    }

    async fn landing_page(&self, outline: &CourseOutline, quiz: Option<&CourseQuiz>) -> Result<CourseLandingPage, GeneratorError> {
        let meta = &outline.metadata;
        let p = phrases(meta.language);
        let (modules, lessons, minutes) =
            (outline.modules.len().to_string(), outline.total_lessons.to_string(), outline.total_estimated_duration_minutes.to_string());
        let questions = quiz.map(|q| q.questions.len().to_string());
        let vars = [
            ("modules", modules.as_str()),
            ("lessons", lessons.as_str()),
            ("minutes", minutes.as_str()),
            ("questions", questions.as_deref().unwrap_or("0")),
        ];
        let subtitle = meta.description.split_inclusive(['.', '!', '?']).next().unwrap_or(&meta.description).trim().to_owned();
        let mut features: Vec<String> = p.features[..4].iter().map(|f| fill(f, &vars)).collect();
        if questions.is_some() {
            features.push(fill(p.features[4], &vars));
        }
        Ok(CourseLandingPage {
            landing_page_id: derived_id(&meta.course_id, "lp", "main"),
            hero_title: meta.title.clone(),
            hero_subtitle: subtitle,
            hero_cta_text: p.cta.to_owned(),
            value_proposition: fill(p.value, &vars),
            for_whom_title: p.for_whom.to_owned(),
            for_whom_items: meta.target_audiences.iter().map(|a| audience_name(p, *a).to_owned()).collect(),
            not_for_whom_title: p.not_for_whom.to_owned(),
            not_for_whom_items: p.not_for_whom_items.iter().map(|s| (*s).to_owned()).collect(),
            course_structure_title: p.structure.to_owned(),
            features,
            disclaimer: p.disclaimer.to_owned(),
            sections: ["hero", "value_proposition", "for_whom", "not_for_whom", "course_structure", "features", "disclaimer"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::model::Tone;
    use super::*;

    fn meta(title: &str, language: Language, course_id: &str) -> CourseMetadata {
        CourseMetadata {
            course_id: course_id.into(),
            title: title.into(),
            description: "A long enough description of what the course teaches to its participants.".into(),
            language,
            target_audiences: vec![Audience::Employees, Audience::Parents],
            full_lessons_count: 10,
            tone: Tone::Sachlich,
            avoid_ideology: true,
            avoid_product_sales: true,
            version: "1.0.0".into(),
            template_id: template_for(title).map(str::to_owned),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn every_generated_part_keeps_the_model_bounds_in_every_language() {
        let g = TemplateGenerator;
        for (i, language) in [Language::De, Language::En, Language::Fr, Language::Es].into_iter().enumerate() {
            for title in ["Haushaltsbuch für Einsteiger", "Alternativen zu Banken und Sparkassen", "Personal finance basics 101"] {
                let title = format!("{title} {i}");
                let outline = g.outline(&meta(&title, language, "c1")).await.unwrap();
                outline.check().unwrap();
                assert_eq!(outline.lessons().filter(|(_, l)| l.status == LessonStatus::Full).count(), 10);
                let quiz = g.quiz(&outline).await.unwrap();
                quiz.check().unwrap();
                assert_eq!(quiz.questions.len(), 15);
                let landing = g.landing_page(&outline, Some(&quiz)).await.unwrap();
                landing.check().unwrap();
                let (m, l) = outline.lessons().next().unwrap();
                assert!(g.lesson_content(&outline, m, l).await.unwrap().starts_with("# "));
            }
        }
    }

    #[tokio::test]
    async fn the_same_request_gives_the_same_content_and_only_ids_differ() {
        let g = TemplateGenerator;
        let a = g.outline(&meta("Haushaltsbuch für Einsteiger", Language::De, "c1")).await.unwrap();
        let b = g.outline(&meta("Haushaltsbuch für Einsteiger", Language::De, "c2")).await.unwrap();
        let titles = |o: &CourseOutline| o.lessons().map(|(_, l)| (l.title.clone(), l.estimated_duration_minutes)).collect::<Vec<_>>();
        assert_eq!(titles(&a), titles(&b));
        assert_ne!(a.modules[0].module_id, b.modules[0].module_id);
        let banking = g.outline(&meta("Alternativen zu Banken", Language::En, "c3")).await.unwrap();
        assert_eq!(banking.metadata.template_id.as_deref(), Some(BANKING_TEMPLATE));
        assert_eq!(banking.modules[0].title, BANKING_TOPICS[0]);
    }
}
